import "server-only";
import { and, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import { environmentAuth, environmentIdentityProviders, environments, identityProviders, ssoTraces, userIdentities, users } from "@/db/schema";
import { environmentIdsOf } from "@/lib/groups/membership-rows";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { authorize, denialReason } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// The one writer of `user_identities` (lib/one-writer.test.ts): an admin's link from a refused
// sign-in's trace, a link by hand, an unlink, and each IdP sign-in's record of use.

/**
 * Attaches an (IdP, subject) to a user, unless it already is; refused when it belongs to another
 * user (unlink it there first). The caller audits and has locked the user.
 */
async function attachIdentity(tx: Executor, identityProviderId: string, subject: string, userId: string): Promise<{ attached: boolean }> {
  const [existing] = await tx
    .select({ userId: userIdentities.userId, email: users.email })
    .from(userIdentities)
    .innerJoin(users, eq(users.id, userIdentities.userId))
    .where(and(eq(userIdentities.identityProviderId, identityProviderId), eq(userIdentities.subject, subject)));
  if (existing?.userId === userId) return { attached: false };
  if (existing) {
    // Beside the subject on the form that links by hand (the link from a sign-in trace has no field).
    const message = `This identity is already linked to ${existing.email}; unlink it there first.`;
    throw new ConflictError(message, { subject: [message] });
  }
  await tx.insert(userIdentities).values({ identityProviderId, subject, userId, lastUsedAt: sql`null` });
  return { attached: true };
}

/**
 * An IdP sign-in's record of an identity's use: attaches it to the user the sign-in matched, or
 * marks it used now. Not sent yet: the quiet sign-in sends it with its other writes.
 */
export function recordIdentityUse(tx: Executor, identityProviderId: string, subject: string, userId: string) {
  return tx
    .insert(userIdentities)
    .values({ identityProviderId, subject, userId, lastUsedAt: sql`now()` })
    .onConflictDoUpdate({ target: [userIdentities.identityProviderId, userIdentities.subject], set: { lastUsedAt: sql`now()` } });
}

/** Failed checks an admin can resolve by linking the asserted identity to the user by hand. */
export const LINKABLE_CHECKS = ["email_unverified", "identity_conflict"] as const;

/**
 * A linked (IdP, subject) matches its user at every environment that signs in with the IdP (its
 * main IdP or one chosen by email domain, SSO on or not yet), and there JIT may grant the user the
 * environment and group sync give them its groups. So linking one is a change to the user and to
 * each of those environments: the admin's scope must cover them all; an IdP no environment signs
 * in with yet could be adopted by any, so linking its identities is account-wide.
 */
async function authorizeIdentityLink(tx: Executor, ctx: DomainContext, idp: { id: string; name: string }, userEnvironmentIds: readonly string[]) {
  const reached = await tx
    .select({ id: environments.id, key: environments.key })
    .from(environments)
    .where(
      sql`exists (select 1 from ${environmentAuth} a where a.environment_id = ${environments.id} and a.identity_provider_id = ${idp.id})
        or exists (select 1 from ${environmentIdentityProviders} e where e.environment_id = ${environments.id} and e.identity_provider_id = ${idp.id})`,
    )
    .orderBy(environments.position, environments.key);
  const denial = denialReason(ctx.actor, "users", "write", reached.length ? [...new Set([...userEnvironmentIds, ...reached.map((e) => e.id)])] : []);
  if (!denial) return;
  // The user's own environments were checked first (by the caller); what is left is the IdP's reach.
  const where = reached.length ? `signs users in to ${reached.map((e) => e.key.toUpperCase()).join(", ")}` : "signs no environment in yet (any environment may adopt it)";
  const message = `${idp.name} ${where}: an identity linked to it lets its holder into each of them. ${denial}`;
  throw new ForbiddenError(message, { identityProviderId: [message] });
}

/**
 * "Link this identity": an admin vouches that the (IdP, subject) of a refused sign-in is the user
 * the trace names, so the next sign-in matches it without linking by email. The admin's scope must
 * cover the user and the environment the sign-in was for (a DEV admin cannot attach a PROD sign-in
 * to a DEV user they control). Audited as the admin.
 */
export async function linkIdentityFromTrace(ctx: DomainContext, traceId: unknown): Promise<{ userId: string }> {
  const id = parseInput(uuidSchema, traceId);
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const [trace] = await tx
      .select({ trace: ssoTraces, idpName: identityProviders.name })
      .from(ssoTraces)
      .innerJoin(identityProviders, eq(identityProviders.id, ssoTraces.identityProviderId))
      .where(eq(ssoTraces.id, id));
    if (!trace) throw new NotFoundError("Trace not found.");
    const t = trace.trace;
    if (!t.subject || !t.userId || !t.environmentId || !(LINKABLE_CHECKS as readonly string[]).includes(t.failedCheck ?? "")) {
      throw ValidationError.field("_form", "Only a sign-in refused because its email was not verified or it conflicted with another identity can be linked.");
    }
    const [user] = await tx.select().from(users).where(eq(users.id, t.userId)).for("update");
    if (!user) throw new NotFoundError("The user this sign-in named no longer exists.");
    const userEnvironmentIds = await environmentIdsOf(tx, user.id);
    authorize(ctx.actor, "users", "write", [...new Set([...userEnvironmentIds, t.environmentId])]);
    await authorizeIdentityLink(tx, ctx, { id: t.identityProviderId!, name: trace.idpName }, userEnvironmentIds);
    const environment = await requireEnvironment(tx, t.environmentId);
    await attachIdentity(tx, t.identityProviderId!, t.subject, user.id);
    await recordAudit(tx, ctx, {
      action: "user.identity_link",
      targetType: "user",
      targetId: user.id,
      targetLabel: user.email,
      environment,
      after: { identityProvider: trace.idpName, subject: t.subject, via: "console", trace: t.id, resolves: t.failedCheck },
    });
    return { userId: user.id };
  });
}

export type LinkedIdentity = { identityProviderId: string; identityProvider: string; subject: string; firstUsedAt: Date; lastUsedAt: Date | null };

/** The (IdP, subject) identities a user signs in as, with first and last use. */
export async function listUserIdentities(userId: string): Promise<LinkedIdentity[]> {
  const id = uuidSchema.safeParse(userId);
  if (!id.success) return [];
  const rows = await getDb()
    .select({ identityProviderId: userIdentities.identityProviderId, identityProvider: identityProviders.name, subject: userIdentities.subject, firstUsedAt: userIdentities.createdAt, lastUsedAt: userIdentities.lastUsedAt })
    .from(userIdentities)
    .innerJoin(identityProviders, eq(identityProviders.id, userIdentities.identityProviderId))
    .where(eq(userIdentities.userId, id.data))
    .orderBy(identityProviders.name, userIdentities.subject);
  return rows;
}

const identityInput = z.object({
  userId: uuidSchema,
  identityProviderId: uuidSchema,
  subject: z.string({ error: "Enter the subject (NameID) the IdP asserts." }).trim().min(1, "Enter the subject (NameID) the IdP asserts.").max(500),
});

/** Locks the user and checks the admin's scope covers every environment the user is in. */
async function lockScopedUser(tx: Tx, ctx: DomainContext, userId: string) {
  const [user] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
  if (!user) throw new NotFoundError("User not found.");
  const environmentIds = await environmentIdsOf(tx, user.id);
  authorize(ctx.actor, "users", "write", environmentIds);
  return { user, environmentIds };
}

/**
 * Links an (IdP, subject) to a user by hand: their next sign-in with it matches this user. Refused
 * when the identity belongs to another user (unlink it there first). Audited as the admin.
 */
export async function linkIdentity(ctx: DomainContext, input: unknown): Promise<{ linked: boolean }> {
  const data = parseInput(identityInput, input);
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const { user, environmentIds } = await lockScopedUser(tx, ctx, data.userId);
    const [idp] = await tx.select({ id: identityProviders.id, name: identityProviders.name }).from(identityProviders).where(eq(identityProviders.id, data.identityProviderId));
    if (!idp) throw ValidationError.field("identityProviderId", "This identity provider does not exist.");
    await authorizeIdentityLink(tx, ctx, idp, environmentIds);
    if (!(await attachIdentity(tx, idp.id, data.subject, user.id)).attached) return { linked: false };
    await recordAudit(tx, ctx, { action: "user.identity_link", targetType: "user", targetId: user.id, targetLabel: user.email, after: { identityProvider: idp.name, subject: data.subject, via: "console (by hand)" } });
    return { linked: true };
  });
}

/** Unlinks an (IdP, subject) from a user: a sign-in with it no longer matches them. Audited. */
export async function unlinkIdentity(ctx: DomainContext, input: unknown): Promise<{ unlinked: boolean }> {
  const data = parseInput(identityInput, input);
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const { user } = await lockScopedUser(tx, ctx, data.userId);
    const gone = await tx
      .delete(userIdentities)
      .where(and(eq(userIdentities.userId, user.id), eq(userIdentities.identityProviderId, data.identityProviderId), eq(userIdentities.subject, data.subject)))
      .returning({ subject: userIdentities.subject });
    if (!gone.length) throw new NotFoundError("This identity is not linked to the user.");
    const [idp] = await tx.select({ name: identityProviders.name }).from(identityProviders).where(eq(identityProviders.id, data.identityProviderId));
    await recordAudit(tx, ctx, { action: "user.identity_unlink", targetType: "user", targetId: user.id, targetLabel: user.email, before: { identityProvider: idp?.name ?? data.identityProviderId, subject: data.subject } });
    return { unlinked: true };
  });
}
