import "server-only";
import { and, eq, inArray, isNotNull, ne, or, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import {
  environmentAccess,
  environmentJitGroups,
  groupMappings,
  groupMembers,
  groups,
  userIdentities,
  users,
  type Environment,
  type EnvironmentAuth,
  type IdentityProvider,
  type User,
} from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAuditMany, type AuditEntry } from "@/lib/audit/record";
import { environmentKeysOf } from "@/lib/environments";
import { additionalIdentityProvidersOf } from "./environment-auth";
import { accessExclusionsOf, exclusionNote, groupExclusionsOfUser, type StandingExclusion } from "@/lib/groups/exclusions";
import { GROUP_NAME_MAX, insertGroupRows } from "@/lib/groups/group-rows";
import { deleteUserMembershipRowsOfSource, environmentIdsOf, insertAccessRows, insertMembershipPairs } from "@/lib/groups/membership-rows";
import { denialReason } from "@/lib/permissions";
import { userCreatedEntry } from "@/lib/users";
import { environmentAccessEntry } from "@/lib/users/bulk";
import { emailVerifiedFor, insertUserRows, signedInRow } from "@/lib/users/rows";
import { emailSchema } from "@/lib/validation";
import { recordIdentityUse } from "@/lib/sso/identities";

/** An IdP acts in the one environment a sign-in is for, like an environment admin of it. */
export const idpActor = (idp: Pick<IdentityProvider, "id" | "name">, environmentId: string): Actor => ({ type: "identity_provider", id: idp.id, label: idp.name, environmentIds: [environmentId] });

// What an SSO sign-in does to users, access and groups, as a plan computed without writing
// (the mapping tester shows it) and then applied in the sign-in's transaction. JIT and group sync
// are one more caller of the same row helpers the console uses.

export type AssertedIdentity = { subject: string; email: string; name: string; groups: string[] };

export type GroupRef = { id: string; name: string };

export type SignInPlan = {
  identity: AssertedIdentity;
  user:
    | { action: "create"; email: string; name: string }
    | { action: "match" | "link"; id: string; email: string; name: string; status: User["status"]; rename: string | null; activate: boolean };
  /** Why an account-wide change the assertion asked for (the name, activating an invitation) was not made. */
  accountKept: string | null;
  access: "existing" | "grant";
  defaultGroups: GroupRef[];
  groupSync: boolean;
  groupsAdded: GroupRef[];
  groupsCreated: string[];
  groupsRemoved: GroupRef[];
  groupsKept: GroupRef[];
  /** Groups the assertion names that the sync leaves out: an access review excluded the user from them. */
  groupsExcluded: (GroupRef & { reason: string })[];
  unknownGroups: string[];
};

export type PlanDenial = { denied: true; check: string; reason: string; userId?: string };

/** Reads the attributes the IdP's mapping names; email falls back to an email-like NameID. */
export function assertedIdentity(
  idp: Pick<IdentityProvider, "attributeMapping" | "protocol">,
  settings: Pick<EnvironmentAuth, "groupAttribute">,
  subject: string,
  attributes: Record<string, string[]>,
): AssertedIdentity | { error: string } {
  const pick = (name: string) => {
    const key = Object.keys(attributes).find((k) => k === name) ?? Object.keys(attributes).find((k) => k.toLowerCase() === name.toLowerCase());
    return key ? attributes[key]!.filter(Boolean) : [];
  };
  const mapping = idp.attributeMapping;
  const email = (pick(mapping.email)[0] ?? (emailSchema.safeParse(subject).success ? subject : "")).trim();
  if (!emailSchema.safeParse(email).success) {
    return {
      error:
        idp.protocol === "oidc"
          ? `The ID token and UserInfo carry no email in the "${mapping.email}" claim and the subject is not an email.`
          : `The assertion carries no email in the "${mapping.email}" attribute and the NameID is not an email.`,
    };
  }
  const first = pick("firstName")[0] ?? pick("givenName")[0] ?? pick("User.FirstName")[0];
  const last = pick("lastName")[0] ?? pick("surname")[0] ?? pick("sn")[0] ?? pick("User.LastName")[0];
  let name = pick(mapping.name)[0] ?? "";
  if (mapping.name === "User.FirstName" && last) name = `${name} ${last}`.trim();
  if (!name && (first || last)) name = [first, last].filter(Boolean).join(" ");
  if (!name) name = email.split("@")[0]!;
  const groupValues = [...new Set(pick(settings.groupAttribute || mapping.groups).map((g) => g.trim()).filter(Boolean))].slice(0, 1000);
  return { subject, email, name: name.slice(0, 200), groups: groupValues };
}

/**
 * The plan for one sign-in: which user (by IdP + subject first, then by email when that user is
 * not linked to another IdP), access, and the SAML-owned memberships to add and remove.
 */
export async function planSignIn(
  tx: Executor,
  input: { idp: IdentityProvider; environment: Environment; settings: Pick<EnvironmentAuth, "jitEnabled" | "groupSyncEnabled" | "identityProviderId">; identity: AssertedIdentity },
): Promise<SignInPlan | PlanDenial> {
  const { idp, environment, settings, identity } = input;
  // A further IdP of the environment signs in only the email domains it is listed for (the main
  // IdP, any): otherwise a partner's IdP asserting a corp.example address would match, link or
  // create (JIT) that account, and name it and set its groups.
  if (settings.identityProviderId !== idp.id) {
    const further = (await additionalIdentityProvidersOf(environment.id, tx)).find((o) => o.id === idp.id);
    // Matched as home realm discovery matches it (environment-auth.ts).
    const domain = identity.email.split("@").pop()!.toLowerCase();
    if (!further?.domains.includes(domain)) {
      const served = further?.domains.length ? further.domains.join(", ") : "no email domain";
      return { denied: true, check: "domain", reason: `${idp.name} signs in to ${environment.name} only for ${served}; it asserted ${identity.email}.` };
    }
  }
  // One query for the usual case: the linked user, whether they may enter, and their groups here.
  const [linked] = await tx
    .select({
      user: users,
      hasAccess: sql<boolean>`exists (select 1 from ${environmentAccess} ea where ea.user_id = ${users.id} and ea.environment_id = ${environment.id})`,
      memberships: sql<{ id: string; name: string; source: string; identityProviderId: string | null }[]>`coalesce((
        select json_agg(json_build_object('id', g.id, 'name', g.name, 'source', gm.source, 'identityProviderId', gm.identity_provider_id))
        from ${groupMembers} gm join ${groups} g on g.id = gm.group_id
        where gm.user_id = ${users.id} and gm.environment_id = ${environment.id}), '[]'::json)`,
    })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.identityProviderId, idp.id), eq(userIdentities.subject, identity.subject)));
  let user: User | undefined = linked?.user;
  let action: "match" | "link" | "create" = "match";
  if (!user) {
    const [byEmail] = await tx.select().from(users).where(sql`lower(${users.email}) = lower(${identity.email})`);
    if (byEmail) {
      const [other] = await tx
        .select({ idp: userIdentities.identityProviderId })
        .from(userIdentities)
        .where(and(eq(userIdentities.userId, byEmail.id), ne(userIdentities.identityProviderId, idp.id)))
        .limit(1);
      if (other) {
        return { denied: true, check: "identity_conflict", reason: `${identity.email} is linked to another identity provider; a second IdP cannot take over the account.`, userId: byEmail.id };
      }
      const [sameIdp] = await tx.select({ subject: userIdentities.subject }).from(userIdentities).where(and(eq(userIdentities.userId, byEmail.id), eq(userIdentities.identityProviderId, idp.id))).limit(1);
      if (sameIdp) {
        return { denied: true, check: "identity_conflict", reason: `${identity.email} is linked to a different subject (${sameIdp.subject}) at this identity provider.`, userId: byEmail.id };
      }
      // Linking by email trusts the address: it must have been proven (a mailed link used, or a
      // directory or IdP of this environment asserting it). An admin's unproven change cannot
      // pre-seed an account for the address's real owner.
      if (!emailVerifiedFor(byEmail, environment.id)) {
        return {
          denied: true,
          check: "email_unverified",
          reason: `${byEmail.email} belongs to an existing user whose email is not verified, so this sign-in cannot be linked to it by email. An admin whose scope covers the user can link this identity from the trace.`,
          userId: byEmail.id,
        };
      }
      user = byEmail;
      action = "link";
    } else {
      action = "create";
    }
  }
  if (user && (user.status === "suspended" || user.status === "deprovisioned")) {
    return { denied: true, check: "user_status", reason: `The account ${user.email} is ${user.status}.`, userId: user.id };
  }
  let access: SignInPlan["access"] = "grant";
  if (linked) access = linked.hasAccess ? "existing" : "grant";
  else if (user) {
    const [row] = await tx.select({ userId: environmentAccess.userId }).from(environmentAccess).where(and(eq(environmentAccess.userId, user.id), eq(environmentAccess.environmentId, environment.id)));
    if (row) access = "existing";
  }
  if (access === "grant" && user) {
    // An access review revoked this user's access here: JIT does not grant it back while that stands.
    const excluded = (await accessExclusionsOf(tx, environment.id, [user.id])).get(user.id);
    if (excluded) return { denied: true, check: "excluded", reason: `${user.email} has no access to ${environment.name}: ${exclusionNote(excluded)}`, userId: user.id };
  }
  if (access === "grant" && user && !linked && settings.jitEnabled && (await environmentIdsOf(tx, user.id)).length === 0) {
    // Linking by email a user no environment holds, who is account-wide (owners' and admins'): JIT
    // granting this environment would put the account in the hands of this environment's admins,
    // as their own grant may not (lib/users/bulk.ts). SCIM refuses the same link. A user this IdP
    // already signs in (its identity linked) who lost their access comes back as before.
    return {
      denied: true,
      check: "no_access",
      reason: `${user.email} can enter no environment yet (an account-wide user): an owner or admin grants them ${environment.name} first, then they sign in here.`,
      userId: user.id,
    };
  }
  if (access === "grant" && !settings.jitEnabled) {
    return {
      denied: true,
      check: user ? "no_access" : "no_account",
      reason: user
        ? `${user.email} has no access to ${environment.name}, and just-in-time provisioning is off.`
        : `There is no account for ${identity.email}, and just-in-time provisioning is off for ${environment.name}.`,
      userId: user?.id,
    };
  }

  const jitGroups =
    access === "grant"
      ? await tx.select({ id: groups.id, name: groups.name }).from(environmentJitGroups).innerJoin(groups, eq(groups.id, environmentJitGroups.groupId)).where(eq(environmentJitGroups.environmentId, environment.id))
      : [];
  // A default group an access review took the user out of stays out while the exclusion stands.
  const jitExclusions = user && jitGroups.length ? await groupExclusionsOfUser(tx, user.id, jitGroups.map((g) => g.id)) : new Map<string, StandingExclusion>();
  const defaultGroups = jitGroups.filter((g) => !jitExclusions.has(g.id));
  const defaultsExcluded = jitGroups.filter((g) => jitExclusions.has(g.id)).map((g) => ({ ...g, reason: exclusionNote(jitExclusions.get(g.id)!) }));

  // The name and an invitation's status are account-wide: the IdP changes them only for users who
  // can enter no environment but its own (the actor's scope rule, as for an environment admin).
  let rename = user && identity.name && identity.name !== user.name ? identity.name : null;
  let activate = user?.status === "invited";
  let accountKept: string | null = null;
  if (user && (rename || activate)) {
    const reason = denialReason(idpActor(idp, environment.id), "users", "write", await environmentIdsOf(tx, user.id));
    if (reason && activate) {
      // An invited user stays invited, and an invited user's session is refused: signing them in
      // would be a success that leads nowhere. Refused with what to do instead.
      return {
        denied: true,
        check: "user_status",
        reason: `${user.email} has not accepted their invitation yet, and ${idp.name} cannot activate an account that can also enter an environment outside ${environment.name}: accept the invitation first, or ask an admin whose scope covers every environment of the account to activate it.`,
        userId: user.id,
      };
    }
    if (reason) {
      accountKept = `name left as they are: ${user.email} can also enter an environment outside ${environment.name}.`;
      rename = null;
      activate = false;
    }
  }
  const plan: SignInPlan = {
    identity,
    accountKept,
    user:
      action === "create"
        ? { action, email: identity.email, name: identity.name }
        : { action, id: user!.id, email: user!.email, name: user!.name, status: user!.status, rename, activate },
    access,
    defaultGroups,
    groupSync: settings.groupSyncEnabled,
    groupsAdded: [],
    groupsCreated: [],
    groupsRemoved: [],
    groupsKept: [],
    groupsExcluded: defaultsExcluded,
    unknownGroups: [],
  };
  if (!settings.groupSyncEnabled) return plan;

  // Targets: explicit mappings first, then (for the environment's main IdP only) a group of the
  // environment with the same name. A further IdP serves listed email domains (a partner's, say):
  // its users join only the groups mapped for it, never a group that merely shares a value's name
  // ("Admins"), and it creates none.
  const values = identity.groups;
  const byName = settings.identityProviderId === idp.id;
  // Explicitly mapped groups and same-name groups for the asserted values, in one query.
  const candidates = values.length
    ? await tx
        .select({ id: groups.id, name: groups.name, mappedFrom: groupMappings.idpValue })
        .from(groups)
        .leftJoin(
          groupMappings,
          and(eq(groupMappings.groupId, groups.id), eq(groupMappings.identityProviderId, idp.id), eq(groupMappings.environmentId, environment.id), inArray(groupMappings.idpValue, values)),
        )
        .where(
          and(
            eq(groups.environmentId, environment.id),
            ne(groups.source, "system"),
            or(isNotNull(groupMappings.idpValue), byName ? inArray(sql`lower(${groups.name})`, values.map((v) => v.toLowerCase())) : sql`false`),
          ),
        )
    : [];
  const mapped = candidates.filter((c) => c.mappedFrom !== null).map((c) => ({ value: c.mappedFrom!, id: c.id, name: c.name }));
  const unmapped = values.filter((v) => !mapped.some((m) => m.value === v));
  const sameName = candidates.filter((c) => unmapped.some((v) => v.toLowerCase() === c.name.toLowerCase())).map(({ id, name }) => ({ id, name }));
  const targets = new Map<string, GroupRef>();
  for (const m of mapped) targets.set(m.id, { id: m.id, name: m.name });
  for (const g of sameName) targets.set(g.id, g);
  const missing = unmapped.filter((v) => !sameName.some((g) => g.name.toLowerCase() === v.toLowerCase()));
  const creates = byName && idp.createGroupsFromAssertion;
  if (creates) plan.groupsCreated = missing.filter((v) => v.length <= GROUP_NAME_MAX);
  plan.unknownGroups = creates ? missing.filter((v) => v.length > GROUP_NAME_MAX) : missing;

  const current = linked
    ? linked.memberships
    : user
      ? await tx
          .select({ id: groups.id, name: groups.name, source: groupMembers.source, identityProviderId: groupMembers.identityProviderId })
          .from(groupMembers)
          .innerJoin(groups, eq(groups.id, groupMembers.groupId))
          .where(and(eq(groupMembers.userId, user.id), eq(groupMembers.environmentId, environment.id)))
      : [];
  const currentIds = new Set(current.map((c) => c.id));
  const defaultIds = new Set(defaultGroups.map((g) => g.id));
  plan.groupsAdded = [...targets.values()].filter((g) => !currentIds.has(g.id) && !defaultIds.has(g.id));
  // Memberships an access review took away stay away while the exclusion stands.
  const exclusions = user ? await groupExclusionsOfUser(tx, user.id, plan.groupsAdded.map((g) => g.id)) : new Map<string, StandingExclusion>();
  plan.groupsExcluded = [...defaultsExcluded, ...plan.groupsAdded.filter((g) => exclusions.has(g.id) && !jitExclusions.has(g.id)).map((g) => ({ ...g, reason: exclusionNote(exclusions.get(g.id)!) }))];
  plan.groupsAdded = plan.groupsAdded.filter((g) => !exclusions.has(g.id));
  plan.groupsKept = current.filter((c) => targets.has(c.id)).map(({ id, name }) => ({ id, name }));
  // Only what this IdP's sync added is removed: manual and SCIM memberships stay, and so do those
  // another IdP of the environment synced (unmarked ones, synced before IdPs were recorded, go).
  plan.groupsRemoved = current
    .filter((c) => c.source === "saml" && (c.identityProviderId === idp.id || c.identityProviderId === null) && !targets.has(c.id))
    .map(({ id, name }) => ({ id, name }));
  return plan;
}

/** Applies a plan; returns the user. Audit rows for every change go out in one statement. */
export async function applySignInPlan(
  tx: Executor,
  ctx: DomainContext,
  input: { plan: SignInPlan; idp: IdentityProvider; environment: Environment },
): Promise<User> {
  const { plan, idp, environment } = input;
  const env = { id: environment.id, key: environment.key };
  const audit: AuditEntry[] = [];
  let user: User;
  if (plan.user.action === "create") {
    const [created] = await insertUserRows(tx, [
      {
        email: plan.user.email,
        name: plan.user.name,
        status: "active",
        source: "jit",
        environmentKeys: environmentKeysOf([environment]),
        emailProof: { by: "identity_provider", environmentId: environment.id },
        signedIn: true,
      },
    ]);
    user = created!;
    audit.push(userCreatedEntry(user, { environments: [environment.key], identityProvider: idp.name }, env));
  } else {
    const [updated] = await Promise.all([
      signedInRow(tx, plan.user.id, { ...(plan.user.rename ? { name: plan.user.rename } : {}), activate: plan.user.activate }),
      recordIdentityUse(tx, idp.id, plan.identity.subject, plan.user.id),
    ]);
    user = updated;
    if (plan.user.rename || plan.user.activate) {
      audit.push({
        action: "user.update",
        targetType: "user",
        targetId: user.id,
        targetLabel: user.email,
        environment: env,
        before: { name: plan.user.name, status: plan.user.status },
        after: { name: user.name, status: user.status },
      });
    }
  }
  if (plan.user.action === "create") await recordIdentityUse(tx, idp.id, plan.identity.subject, user.id);
  if (plan.user.action === "link") {
    audit.push({ action: "user.identity_link", targetType: "user", targetId: user.id, targetLabel: user.email, after: { identityProvider: idp.name, subject: plan.identity.subject } });
  }
  if (plan.access === "grant") {
    await insertAccessRows(tx, [user.id], environment.id, "jit");
    audit.push(environmentAccessEntry("grant", user, env, { after: { source: "jit" } }));
    if (plan.defaultGroups.length) {
      await insertMembershipPairs(tx, plan.defaultGroups.map((g) => ({ groupId: g.id, userId: user.id, environmentId: environment.id })), "manual");
      for (const g of plan.defaultGroups) audit.push({ action: "group.members.add", targetType: "group", targetId: g.id, targetLabel: g.name, environment: env, after: { users: [user.email], source: "jit default" } });
    }
  }
  const added = [...plan.groupsAdded];
  for (const name of plan.groupsCreated) {
    const [group] = await insertGroupRows(tx, [{ environmentId: environment.id, name, description: `Created from ${idp.name}'s assertion.`, source: "saml" }], { skipExisting: true });
    const g = group ?? (await tx.select({ id: groups.id, name: groups.name }).from(groups).where(and(eq(groups.environmentId, environment.id), sql`lower(${groups.name}) = lower(${name})`)))[0];
    if (!g) continue;
    if (group) audit.push({ action: "group.create", targetType: "group", targetId: g.id, targetLabel: g.name, environment: env, after: { name: g.name, source: "saml" } });
    added.push(g);
  }
  if (added.length) {
    const inserted = await insertMembershipPairs(tx, added.map((g) => ({ groupId: g.id, userId: user.id, environmentId: environment.id })), "saml", null, idp.id);
    for (const row of inserted) {
      const g = added.find((a) => a.id === row.groupId)!;
      audit.push({ action: "group.members.add", targetType: "group", targetId: g.id, targetLabel: g.name, environment: env, after: { users: [user.email], source: "saml" } });
    }
  }
  if (plan.groupsRemoved.length) {
    const removed = await deleteUserMembershipRowsOfSource(tx, user.id, "saml", plan.groupsRemoved.map((g) => g.id));
    for (const groupId of removed) {
      const g = plan.groupsRemoved.find((r) => r.id === groupId)!;
      audit.push({ action: "group.members.remove", targetType: "group", targetId: g.id, targetLabel: g.name, environment: env, before: { users: [user.email], source: "saml" } });
    }
  }
  await recordAuditMany(tx, ctx, audit);
  return user;
}

/** A sign-in that changes nothing but the last-seen times (the common case): no audit row of its own. */
export function isQuietSignIn(plan: SignInPlan): plan is SignInPlan & { user: { action: "match"; id: string } } {
  return (
    plan.user.action === "match" &&
    !plan.user.rename &&
    !plan.user.activate &&
    plan.access === "existing" &&
    plan.groupsAdded.length === 0 &&
    plan.groupsCreated.length === 0 &&
    plan.groupsRemoved.length === 0
  );
}

/** The quiet sign-in's writes; the caller sends them together with the session, trace and audit row. */
export async function touchSignIn(tx: Executor, userId: string, identityProviderId: string, subject: string): Promise<User> {
  const [user] = await Promise.all([signedInRow(tx, userId), recordIdentityUse(tx, identityProviderId, subject, userId)]);
  return user;
}

/** The user's groups in an environment (for the end-user home). */
export async function userGroupsIn(tx: Executor, userId: string, environmentId: string) {
  return tx
    .select({ id: groups.id, name: groups.name, source: groupMembers.source })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.userId, userId), eq(groupMembers.environmentId, environmentId)))
    .orderBy(groups.name);
}
