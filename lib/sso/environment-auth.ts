import "server-only";
import { and, eq, inArray, isNull, not, notInArray, or, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { SECOND_FACTOR_POLICIES, SSO_ENFORCEMENTS } from "@/db/enums";
import {
  environmentAuth,
  environmentBreakGlassUsers,
  environmentIdentityProviders,
  environmentJitGroups,
  groups,
  identityProviders,
  sessions,
  users,
  type EnvironmentAuth,
  type IdentityProvider,
} from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { revokeEnvironmentSessionRows } from "@/lib/end-user/session-rows";
import { requireEnvironment } from "@/lib/environments";
import { usersWithAccess } from "@/lib/groups/membership-rows";
import { NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

/** An IdP an environment signs in with beside its main one, and the email domains it serves. */
export type AdditionalIdentityProvider = { id: string; name: string; protocol: IdentityProvider["protocol"]; domains: string[] };

export type EnvironmentAuthSettings = EnvironmentAuth & {
  identityProvider: Pick<IdentityProvider, "id" | "name" | "entityId"> | null;
  additionalIdentityProviders: AdditionalIdentityProvider[];
  breakGlassUsers: { id: string; email: string; name: string }[];
  jitGroups: { id: string; name: string }[];
};

const domainSchema = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, { error: (issue) => `Not a domain name (example.com): ${String(issue.input)}.` });

/** Email domains as the settings keep them: trimmed, in lower case, each once (promotion plans with it too). */
export const storedDomains = (domains: readonly string[]): string[] => [...new Set(domains.map((d) => d.trim().toLowerCase()))];
/** The groups attribute as the settings keep it: trimmed, blank as none. */
export const storedGroupAttribute = (value: string | null | undefined): string | null => value?.trim() || null;

export const updateEnvironmentAuthInput = z
  .object({
    passwordEnabled: z.boolean(),
    ssoEnabled: z.boolean(),
    identityProviderId: uuidSchema.nullable(),
    enforcement: z.enum(SSO_ENFORCEMENTS),
    // The lists and settings below the switches: left out, they stay as they are (as every newer
    // setting); [] or null clears. A PUT that leaves a field out no longer removes every break-glass
    // user or resets the token lifetime.
    enforcedDomains: z.array(domainSchema).max(100).optional(),
    breakGlassUserIds: z.array(uuidSchema).max(50).optional(),
    // The console names break-glass users by email; resolved to users here.
    breakGlassEmails: z.array(z.string().trim().toLowerCase().pipe(z.email({ error: (issue) => `Not an email address: ${String(issue.input)}.` }))).max(50).optional(),
    jitEnabled: z.boolean(),
    jitGroupIds: z.array(uuidSchema).max(100).optional(),
    groupSyncEnabled: z.boolean(),
    groupAttribute: z.string().trim().max(300).nullable().optional(),
    sessionLifetimeMinutes: z.number({ error: "Enter a number of minutes." }).int("Enter a whole number of minutes.").min(5, "At least 5 minutes.").max(43200, "At most 30 days."),
    idleTimeoutMinutes: z.number({ error: "Enter a number of minutes." }).int("Enter a whole number of minutes.").min(1, "At least 1 minute.").max(43200, "At most 30 days."),
    // Lifetime of the runtime access tokens (JWTs) minted for signed-in users.
    tokenLifetimeSeconds: z.number({ error: "Enter a number of seconds." }).int("Enter a whole number of seconds.").min(60, "At least 60 seconds.").max(3600, "At most an hour.").optional(),
    // Second factors on password sign-in; left out, the current policy stays.
    secondFactor: z.enum(SECOND_FACTOR_POLICIES, { error: "Choose off, optional or required." }).optional(),
    // The environment's OAuth authorization server (MCP clients): left out, the current setting stays.
    oauthDynamicRegistration: z.boolean({ error: "Say on or off." }).optional(),
    oauthClientMetadataDocuments: z.boolean({ error: "Say on or off." }).optional(),
    // More IdPs, each for the email domains it serves (home realm discovery); left out, they stay.
    additionalIdentityProviders: z
      .array(
        z.object({
          identityProviderId: uuidSchema,
          domains: z.array(domainSchema).min(1, "List the email domains this identity provider serves.").max(100),
        }),
      )
      .max(20, "At most 20 more identity providers.")
      .optional(),
    expectedVersion: z.number().int().positive().optional(),
  })
  .superRefine((v, ctx) => {
    if (!v.passwordEnabled && !v.ssoEnabled) ctx.addIssue({ code: "custom", path: ["passwordEnabled"], message: "Turn on password or SSO: users need a way to sign in." });
    if (v.ssoEnabled && !v.identityProviderId) ctx.addIssue({ code: "custom", path: ["identityProviderId"], message: "Choose the identity provider for SSO." });
    if (v.enforcement === "domains" && v.ssoEnabled && v.enforcedDomains?.length === 0) {
      ctx.addIssue({ code: "custom", path: ["enforcedDomains"], message: "List the email domains that must use SSO." });
    }
    const extra = v.additionalIdentityProviders ?? [];
    extra.forEach((e, i) => {
      if (e.identityProviderId === v.identityProviderId) {
        ctx.addIssue({ code: "custom", path: ["additionalIdentityProviders", i, "identityProviderId"], message: "This is already the main identity provider." });
      } else if (extra.findIndex((o) => o.identityProviderId === e.identityProviderId) < i) {
        ctx.addIssue({ code: "custom", path: ["additionalIdentityProviders", i, "identityProviderId"], message: "This identity provider is listed twice." });
      }
    });
    if (extra.length && !v.ssoEnabled) ctx.addIssue({ code: "custom", path: ["additionalIdentityProviders"], message: "Turn on SSO to sign in with more identity providers." });
    if (v.idleTimeoutMinutes > v.sessionLifetimeMinutes) {
      ctx.addIssue({ code: "custom", path: ["idleTimeoutMinutes"], message: "The idle timeout cannot be longer than the session lifetime." });
    }
  });

/**
 * The environment's authentication row alone: what sign-in needs to route an email (routeSignIn).
 * Every environment has one from its creation (lib/environments).
 */
export async function getAuthRow(environmentId: string, executor: Executor = getDb()): Promise<EnvironmentAuth> {
  const [auth] = await executor.select().from(environmentAuth).where(eq(environmentAuth.environmentId, environmentId));
  if (!auth) throw new NotFoundError("This environment has no authentication settings.");
  return auth;
}

/** The settings as the console edits them: the row, its IdP, the break-glass users and the JIT groups. */
export async function getEnvironmentAuth(environmentId: string, executor: Executor = getDb()): Promise<EnvironmentAuthSettings> {
  const [row] = await executor
    .select({ auth: environmentAuth, idp: { id: identityProviders.id, name: identityProviders.name, entityId: identityProviders.entityId } })
    .from(environmentAuth)
    .leftJoin(identityProviders, eq(identityProviders.id, environmentAuth.identityProviderId))
    .where(eq(environmentAuth.environmentId, environmentId));
  if (!row) throw new NotFoundError("This environment has no authentication settings.");
  const auth = row.auth;
  const [breakGlassUsers, jitGroups, additionalIdentityProviders] = await Promise.all([
    executor
      .select({ id: users.id, email: users.email, name: users.name })
      .from(environmentBreakGlassUsers)
      .innerJoin(users, eq(users.id, environmentBreakGlassUsers.userId))
      .where(eq(environmentBreakGlassUsers.environmentId, environmentId))
      .orderBy(users.email),
    executor
      .select({ id: groups.id, name: groups.name })
      .from(environmentJitGroups)
      .innerJoin(groups, eq(groups.id, environmentJitGroups.groupId))
      .where(eq(environmentJitGroups.environmentId, environmentId))
      .orderBy(groups.name),
    additionalIdentityProvidersOf(environmentId, executor),
  ]);
  return { ...auth, identityProvider: row?.idp?.id ? row.idp : null, breakGlassUsers, jitGroups, additionalIdentityProviders };
}

/** The environment's IdPs beside its main one, by name, each with its domains. */
export function additionalIdentityProvidersOf(environmentId: string, executor: Executor = getDb()): Promise<AdditionalIdentityProvider[]> {
  return executor
    .select({ id: identityProviders.id, name: identityProviders.name, protocol: identityProviders.protocol, domains: environmentIdentityProviders.domains })
    .from(environmentIdentityProviders)
    .innerJoin(identityProviders, eq(identityProviders.id, environmentIdentityProviders.identityProviderId))
    .where(eq(environmentIdentityProviders.environmentId, environmentId))
    .orderBy(identityProviders.name);
}

/** Whether an environment signs in with an IdP: SSO on, and the IdP is its main one or one of the others. */
export async function signsInWith(settings: Pick<EnvironmentAuth, "environmentId" | "ssoEnabled" | "identityProviderId">, identityProviderId: string, executor: Executor = getDb()): Promise<boolean> {
  if (!settings.ssoEnabled || !settings.identityProviderId) return false;
  if (settings.identityProviderId === identityProviderId) return true;
  const [row] = await executor
    .select({ id: environmentIdentityProviders.identityProviderId })
    .from(environmentIdentityProviders)
    .where(and(eq(environmentIdentityProviders.environmentId, settings.environmentId), eq(environmentIdentityProviders.identityProviderId, identityProviderId)));
  return !!row;
}

export type SignInChoice = { id: string; name: string };

export type HomeRealm = { routedDomains: string[]; choicesFor(email?: string): SignInChoice[] };

/** No SSO: no routed domain, no IdP to choose. */
export const NO_REALM: HomeRealm = { routedDomains: [], choicesFor: () => [] };

/**
 * Home realm discovery for one environment, its IdPs read once: the email domains its further IdPs
 * serve (routeSignIn sends those emails to SSO), and the IdPs for an email: those serving its
 * domain (several: the person chooses), or the main IdP when none lists it; without an email,
 * every IdP of the environment, the main one first.
 */
export async function homeRealm(settings: Pick<EnvironmentAuth, "environmentId" | "ssoEnabled" | "identityProviderId">): Promise<HomeRealm> {
  if (!settings.ssoEnabled || !settings.identityProviderId) return NO_REALM;
  const [main, others] = await Promise.all([
    getDb().select({ id: identityProviders.id, name: identityProviders.name }).from(identityProviders).where(eq(identityProviders.id, settings.identityProviderId)),
    additionalIdentityProvidersOf(settings.environmentId),
  ]);
  return {
    routedDomains: others.flatMap((o) => o.domains),
    choicesFor(email?: string): SignInChoice[] {
      if (!email) return [...main, ...others.map(({ id, name }) => ({ id, name }))];
      const domain = email.split("@").pop()!.toLowerCase();
      const serving = others.filter((o) => o.domains.includes(domain)).map(({ id, name }) => ({ id, name }));
      return serving.length ? serving : main;
    },
  };
}

/** The IdPs for an email (home realm discovery, see homeRealm). */
export async function identityProvidersFor(settings: Pick<EnvironmentAuth, "environmentId" | "ssoEnabled" | "identityProviderId">, email?: string): Promise<SignInChoice[]> {
  return (await homeRealm(settings)).choicesFor(email);
}

const describe = (s: EnvironmentAuthSettings) => ({
  passwordEnabled: s.passwordEnabled,
  ssoEnabled: s.ssoEnabled,
  identityProvider: s.identityProvider?.name ?? null,
  enforcement: s.enforcement,
  enforcedDomains: s.enforcedDomains,
  breakGlassUsers: s.breakGlassUsers.map((u) => u.email),
  jitEnabled: s.jitEnabled,
  jitGroups: s.jitGroups.map((g) => g.name),
  groupSyncEnabled: s.groupSyncEnabled,
  groupAttribute: s.groupAttribute,
  sessionLifetimeMinutes: s.sessionLifetimeMinutes,
  idleTimeoutMinutes: s.idleTimeoutMinutes,
  tokenLifetimeSeconds: s.tokenLifetimeSeconds,
  secondFactor: s.secondFactor,
  oauthDynamicRegistration: s.oauthDynamicRegistration,
  oauthClientMetadataDocuments: s.oauthClientMetadataDocuments,
  additionalIdentityProviders: s.additionalIdentityProviders.map((a) => ({ identityProvider: a.name, domains: a.domains })),
});

/** Changes how an environment's users sign in; one audited change with before and after. */
export async function updateEnvironmentAuth(ctx: DomainContext, environmentId: string, input: unknown): Promise<EnvironmentAuthSettings> {
  const data = parseInput(updateEnvironmentAuthInput, input);
  authorize(ctx.actor, "environment_auth", "write", [environmentId]);
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, environmentId);
    await tx.select().from(environmentAuth).where(eq(environmentAuth.environmentId, env.id)).for("update");
    const before = await getEnvironmentAuth(env.id, tx);
    if (data.expectedVersion && data.expectedVersion !== before.version) {
      throw new VersionConflictError("Someone else changed these settings; reload and try again.");
    }
    if (data.identityProviderId) {
      const [idp] = await tx.select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.id, data.identityProviderId));
      if (!idp) throw ValidationError.field("identityProviderId", "That identity provider does not exist.");
    }
    const additional = data.additionalIdentityProviders;
    if (additional?.length) {
      const found = await tx.select({ id: identityProviders.id }).from(identityProviders).where(inArray(identityProviders.id, additional.map((a) => a.identityProviderId)));
      additional.forEach((a, i) => {
        if (!found.some((f) => f.id === a.identityProviderId)) throw ValidationError.field(`additionalIdentityProviders.${i}.identityProviderId`, "That identity provider does not exist.");
      });
    }
    const enforcedDomains = data.enforcedDomains ?? before.enforcedDomains;
    if (data.enforcement === "domains" && data.ssoEnabled && enforcedDomains.length === 0) throw ValidationError.field("enforcedDomains", "List the email domains that must use SSO.");
    const listsBreakGlass = data.breakGlassUserIds !== undefined || data.breakGlassEmails !== undefined;
    const breakGlass = listsBreakGlass ? [...new Set(data.breakGlassUserIds)] : before.breakGlassUsers.map((u) => u.id);
    // A break-glass user is someone of this environment: looked up among its users only, so the
    // answer says nothing of users elsewhere (whether an email exists in the account, who they are).
    // Those listed already are found first: one who lost the environment since stays listed, as by id
    // (the console names them by email: every later save of the page would be refused otherwise).
    const emails = data.breakGlassEmails ?? [];
    if (emails.length) {
      const listed = before.breakGlassUsers.filter((u) => emails.includes(u.email.toLowerCase()));
      const others = emails.filter((e) => !listed.some((u) => u.email.toLowerCase() === e));
      const byEmail = others.length ? await tx.select({ id: users.id, email: users.email }).from(users).where(inArray(sql`lower(${users.email})`, others)) : [];
      const entering = await usersWithAccess(tx, byEmail.map((u) => u.id), env.id);
      const found = [...listed, ...byEmail.filter((u) => entering.has(u.id))];
      const missing = emails.filter((e) => !found.some((u) => u.email.toLowerCase() === e));
      if (missing.length) throw ValidationError.field("breakGlassEmails", `No user of ${env.key} has the email ${missing.join(", ")}.`);
      for (const u of found) if (!breakGlass.includes(u.id)) breakGlass.push(u.id);
    }
    // Those already listed stay listed (a user who lost the environment since does not block other changes).
    const added = breakGlass.filter((id) => !before.breakGlassUsers.some((u) => u.id === id));
    if (added.length) {
      if ((await usersWithAccess(tx, added, env.id)).size !== added.length) throw ValidationError.field("breakGlassUserIds", `A break-glass user must be a user of ${env.key}.`);
    }
    const jitGroupIds = data.jitGroupIds ? [...new Set(data.jitGroupIds)] : before.jitGroups.map((g) => g.id);
    if (jitGroupIds.length) {
      const found = await tx.select({ id: groups.id, source: groups.source }).from(groups).where(and(inArray(groups.id, jitGroupIds), eq(groups.environmentId, env.id)));
      if (found.length !== jitGroupIds.length) throw ValidationError.field("jitGroupIds", "A default group is not in this environment.");
      if (found.some((g) => g.source === "system")) throw new ValidationError("Everyone is joined anyway; do not list it.", { jitGroupIds: ["Everyone is joined anyway."] });
    }
    await tx
      .update(environmentAuth)
      .set({
        passwordEnabled: data.passwordEnabled,
        ssoEnabled: data.ssoEnabled,
        identityProviderId: data.identityProviderId,
        enforcement: data.enforcement,
        enforcedDomains: storedDomains(enforcedDomains),
        jitEnabled: data.jitEnabled,
        groupSyncEnabled: data.groupSyncEnabled,
        groupAttribute: data.groupAttribute === undefined ? before.groupAttribute : storedGroupAttribute(data.groupAttribute),
        sessionLifetimeMinutes: data.sessionLifetimeMinutes,
        idleTimeoutMinutes: data.idleTimeoutMinutes,
        tokenLifetimeSeconds: data.tokenLifetimeSeconds ?? before.tokenLifetimeSeconds,
        secondFactor: data.secondFactor ?? before.secondFactor,
        oauthDynamicRegistration: data.oauthDynamicRegistration ?? before.oauthDynamicRegistration,
        oauthClientMetadataDocuments: data.oauthClientMetadataDocuments ?? before.oauthClientMetadataDocuments,
        version: sql`${environmentAuth.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(eq(environmentAuth.environmentId, env.id));
    await tx.delete(environmentBreakGlassUsers).where(eq(environmentBreakGlassUsers.environmentId, env.id));
    if (breakGlass.length) await tx.insert(environmentBreakGlassUsers).values(breakGlass.map((userId) => ({ environmentId: env.id, userId })));
    if (additional) {
      await tx.delete(environmentIdentityProviders).where(eq(environmentIdentityProviders.environmentId, env.id));
      if (additional.length) {
        await tx.insert(environmentIdentityProviders).values(additional.map((a) => ({ environmentId: env.id, identityProviderId: a.identityProviderId, domains: storedDomains(a.domains) })));
      }
    }
    await tx.delete(environmentJitGroups).where(eq(environmentJitGroups.environmentId, env.id));
    if (jitGroupIds.length) await tx.insert(environmentJitGroups).values(jitGroupIds.map((groupId) => ({ environmentId: env.id, groupId })));
    const after = await getEnvironmentAuth(env.id, tx);
    const sessionsEnded = await endSessionsNoLongerAllowed(tx, before, after);
    await recordAudit(tx, ctx, {
      action: "environment.auth_update",
      targetType: "environment",
      targetId: env.id,
      targetLabel: env.name,
      environment: env,
      before: describe(before),
      after: { ...describe(after), ...(sessionsEnded ? { sessionsEnded } : {}) },
    });
    return after;
  });
}

/**
 * Settings that refuse what was allowed end the sessions it opened, as console SSO's do: an SSO
 * session of an IdP the environment no longer signs in with (SSO off, an IdP replaced or removed:
 * perhaps a compromised one), and a password session of a user who may no longer use a password
 * here (passwords off, SSO enforced for them, no longer break-glass). Their tokens and app grants
 * go with them. Read only when the sign-in methods changed; returns how many open sessions ended.
 */
async function endSessionsNoLongerAllowed(tx: Executor, before: EnvironmentAuthSettings, after: EnvironmentAuthSettings): Promise<number> {
  const methods = (s: EnvironmentAuthSettings) =>
    JSON.stringify([s.passwordEnabled, s.ssoEnabled, s.identityProviderId, s.enforcement, s.enforcedDomains, s.breakGlassUsers.map((u) => u.id).sort(), s.additionalIdentityProviders.map((a) => a.id).sort()]);
  if (methods(before) === methods(after)) return 0;
  const idps = after.ssoEnabled && after.identityProviderId ? [after.identityProviderId, ...after.additionalIdentityProviders.map((a) => a.id)] : [];
  const breakGlass = after.breakGlassUsers.map((u) => u.id);
  // routeSignIn decides by the email's domain and whether the user is break-glass: it is asked once
  // per domain of the password sessions here (not once per session), and the answer applied in SQL.
  const domainOf = sql<string>`(select lower(split_part(u.email, '@', -1)) from ${users} u where u.id = ${sessions.userId})`;
  const open = and(eq(sessions.environmentId, after.environmentId), isNull(sessions.revokedAt));
  const domains = (await tx.selectDistinct({ domain: domainOf }).from(sessions).where(and(open, eq(sessions.method, "password")))).map((r) => r.domain);
  const refusedDomains = (isBreakGlass: boolean) => domains.filter((d) => routeSignIn(after, `someone@${d}`, isBreakGlass).method !== "password");
  const [plain, glass] = [refusedDomains(false), refusedDomains(true)];
  const isGlass = breakGlass.length ? inArray(sessions.userId, breakGlass) : sql`false`;
  const refused = or(
    and(eq(sessions.method, "sso"), idps.length ? or(isNull(sessions.identityProviderId), notInArray(sessions.identityProviderId, idps)) : undefined),
    and(
      eq(sessions.method, "password"),
      or(plain.length ? and(not(isGlass), inArray(domainOf, plain)) : sql`false`, glass.length ? and(isGlass, inArray(domainOf, glass)) : sql`false`),
    ),
  )!;
  // Expired rows too (not yet revoked): an app's grant lives on its session's row after the session's end.
  return revokeEnvironmentSessionRows(tx, after.environmentId, refused);
}

export type SignInRoute =
  | { method: "sso"; identityProviderId: string }
  | { method: "password"; identityProviderId: string | null }
  | { method: "none"; reason: string };

/**
 * The email-first decision: SSO when enforced for the email's domain (or for everyone), or when
 * the domain is one a further IdP serves (`routedDomains`, the email step's preference: it goes to
 * that IdP first; the password doors leave it out, as the password stays where it is enabled and not
 * enforced); password otherwise. Break-glass users keep their
 * password while SSO is enforced.
 */
export function routeSignIn(
  settings: Pick<EnvironmentAuthSettings, "passwordEnabled" | "ssoEnabled" | "identityProviderId" | "enforcement" | "enforcedDomains">,
  email: string,
  isBreakGlass: boolean,
  routedDomains: readonly string[] = [],
): SignInRoute {
  const domain = email.split("@").pop()!.toLowerCase();
  const sso = settings.ssoEnabled && settings.identityProviderId ? settings.identityProviderId : null;
  const enforced = !!sso && (settings.enforcement === "all" || (settings.enforcement === "domains" && settings.enforcedDomains.includes(domain)));
  if (sso && (enforced || routedDomains.includes(domain)) && !isBreakGlass) return { method: "sso", identityProviderId: sso };
  if (settings.passwordEnabled || (isBreakGlass && enforced)) return { method: "password", identityProviderId: sso };
  if (sso) return { method: "sso", identityProviderId: sso };
  return { method: "none", reason: "Sign-in is not set up for this environment." };
}
