import "server-only";
import { endSessionsRow } from "@/lib/users/rows";
import { environmentIdsOf } from "@/lib/groups/membership-rows";
import { and, eq, isNull, sql, type SQL } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import type { Environment } from "@/db/schema";
import { environmentAccess, environmentAuth, environments, sessions, users, type Session, type User, secondFactors } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { inTransaction } from "@/lib/domain/transaction";
import { servedOverHttps } from "@/env";
import { NotFoundError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// End-user sessions are server-side rows; the cookie carries a random secret whose SHA-256 is the
// row's key. Every request checks the row, so suspension, revocation of the environment and
// "sign out everywhere" end a session at once.


/** One cookie per environment; `__Host-` (Secure, path /, no Domain) under https. */
export function sessionCookieName(environmentKey: string): string {
  return `${servedOverHttps() ? "__Host-" : ""}iam_env_${environmentKey}`;
}

export function sessionCookieOptions() {
  return { httpOnly: true, sameSite: "lax" as const, secure: servedOverHttps(), path: "/" };
}

export async function createEndUserSession(
  tx: Executor,
  input: {
    userId: string;
    environmentId: string;
    method: "password" | "sso";
    identityProviderId?: string | null;
    /** How the second step was proven (password sign-ins), or the IdP's authentication context (SSO). */
    secondFactor?: string | null;
    authnContext?: string | null;
    ip?: string;
    userAgent?: string;
    /** When it ends: by default the environment's session lifetime from now. */
    expiresAt?: SQL;
  },
): Promise<{ token: string; session: Session }> {
  const token = newSecretToken();
  const [session] = await tx
    .insert(sessions)
    .values({
      tokenHash: hashToken(token),
      userId: input.userId,
      environmentId: input.environmentId,
      method: input.method,
      identityProviderId: input.identityProviderId ?? null,
      secondFactor: input.secondFactor ?? null,
      authnContext: input.authnContext?.slice(0, 300) ?? null,
      // The lifetime is the environment's setting at sign-in; the idle timeout is read live.
      expiresAt:
        input.expiresAt ??
        sql`now() + make_interval(mins => coalesce((select ${environmentAuth.sessionLifetimeMinutes} from ${environmentAuth} where ${environmentAuth.environmentId} = ${input.environmentId}), 720))`,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, 512) ?? null,
    })
    .returning();
  return { token, session: session! };
}

/**
 * Whether a session (a row of `sessions`, joined with its environment's `environment_auth`) may
 * only add a second factor: the environment requires one on password sign-in and the user has none
 * yet. One rule for the session cookie and for an app's grant made from the session (lib/oauth).
 */
export const mustEnrolSql = () =>
  sql<boolean>`(coalesce(${environmentAuth.secondFactor} = 'required', false) and ${sessions.method} = 'password'
    and not exists (select 1 from ${secondFactors} f where f.user_id = ${sessions.userId} and f.confirmed_at is not null))`;

/** `mustEnrol`: the environment requires a second factor on password sign-in and the user has none yet: the session only lets them add one. */
export type EndUserSession = { session: Session; user: User; environment: Environment; mustEnrol: boolean };

/** A live session (with its user, its environment's access row and `environment_auth` joined): not revoked, expired (absolute or idle), signed out everywhere, of an active user. */
const liveSession = () =>
  and(
    isNull(sessions.revokedAt),
    sql`${sessions.expiresAt} > now()`,
    sql`${sessions.lastSeenAt} > now() - make_interval(mins => coalesce(${environmentAuth.idleTimeoutMinutes}, 60))`,
    eq(users.status, "active"),
    sql`(${users.revokedBefore} is null or ${sessions.createdAt} > ${users.revokedBefore})`,
  );

/**
 * In a transaction that changes the user's account from one of their sessions: holds the user's row
 * (a suspension, a reset or another session's change waits, or is waited for) and answers whether
 * that session is still live, as readEndUserSession decides.
 */
export async function holdLiveSession(tx: Executor, session: Pick<Session, "id" | "userId">): Promise<boolean> {
  await tx.select({ id: users.id }).from(users).where(eq(users.id, session.userId)).for("update");
  const [row] = await tx
    .select({ id: sessions.id })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(environmentAccess, and(eq(environmentAccess.userId, sessions.userId), eq(environmentAccess.environmentId, sessions.environmentId)))
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, sessions.environmentId))
    .where(and(eq(sessions.id, session.id), liveSession()));
  return !!row;
}

/**
 * This browser's session again, after a password change: a new row and cookie secret with the old
 * one's method, proofs and end (a copy of the old cookie is then worth nothing). The caller ends
 * the old row with the user's others. Returns the new cookie's token and the row's id.
 */
export async function renewEndUserSession(tx: Executor, old: Session, request: { ip?: string; userAgent?: string }): Promise<{ token: string; id: string }> {
  const { token, session } = await createEndUserSession(tx, {
    userId: old.userId,
    environmentId: old.environmentId,
    method: old.method,
    identityProviderId: old.identityProviderId,
    secondFactor: old.secondFactor,
    authnContext: old.authnContext,
    ip: request.ip ?? old.ip ?? undefined,
    userAgent: request.userAgent ?? old.userAgent ?? undefined,
    // Read in SQL: a JavaScript Date would drop the microseconds.
    expiresAt: sql`(select s.expires_at from ${sessions} s where s.id = ${old.id})`,
  });
  return { token, id: session.id };
}

/**
 * The live session behind a cookie, or null: revoked, expired (absolute or idle), user not
 * active, signed out everywhere, or no longer allowed into the environment.
 */
export async function readEndUserSession(environmentKey: string, token: string | undefined): Promise<EndUserSession | null> {
  if (!token || token.length > 200) return null;
  const db = getDb();
  const [row] = await db
    .select({
      session: sessions,
      user: users,
      environment: environments,
      idleMinutes: environmentAuth.idleTimeoutMinutes,
      mustEnrol: mustEnrolSql(),
    })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .innerJoin(environments, eq(environments.id, sessions.environmentId))
    .innerJoin(environmentAccess, and(eq(environmentAccess.userId, sessions.userId), eq(environmentAccess.environmentId, sessions.environmentId)))
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, sessions.environmentId))
    .where(
      and(eq(sessions.tokenHash, hashToken(token)), eq(environments.key, environmentKey), liveSession()),
    );
  if (!row) return null;
  // Sliding idle timeout, written at most once a minute.
  if (Date.now() - row.session.lastSeenAt.getTime() > 60_000) {
    await db.update(sessions).set({ lastSeenAt: sql`now()` }).where(eq(sessions.id, row.session.id));
  }
  return { session: row.session, user: row.user, environment: row.environment, mustEnrol: row.mustEnrol };
}

/** Sign-out of one session (the end user's own action). */
export async function endEndUserSession(token: string | undefined): Promise<void> {
  if (!token || token.length > 200) return;
  await inTransaction(async (tx) => {
    const [ended] = await tx
      .update(sessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(sessions.tokenHash, hashToken(token)), isNull(sessions.revokedAt)))
      .returning();
    if (!ended) return;
    const [user] = await tx.select({ email: users.email }).from(users).where(eq(users.id, ended.userId));
    const [env] = await tx.select({ id: environments.id, key: environments.key }).from(environments).where(eq(environments.id, ended.environmentId));
    await recordAudit(
      tx,
      { actor: { type: "end_user", id: ended.userId, label: user?.email ?? "", environmentIds: [ended.environmentId] } },
      { action: "end_user.sign_out", targetType: "user", targetId: ended.userId, targetLabel: user?.email, environment: env },
    );
  });
}

/** "Sign out everywhere": every session of the user ends now, in every environment. */
export async function signOutEverywhere(ctx: DomainContext, userId: string): Promise<number> {
  const id = parseInput(uuidSchema, userId);
  return inTransaction(async (tx) => {
    const [user] = await tx.select().from(users).where(eq(users.id, id)).for("update");
    if (!user) throw new NotFoundError("User not found.");
    authorize(ctx.actor, "users", "write", await environmentIdsOf(tx, id));
    const open = await tx.$count(sessions, and(eq(sessions.userId, id), isNull(sessions.revokedAt), sql`${sessions.expiresAt} > now()`));
    await endSessionsRow(tx, id);
    await recordAudit(tx, ctx, { action: "user.sign_out_everywhere", targetType: "user", targetId: id, targetLabel: user.email, after: { sessionsEnded: open } });
    return open;
  });
}
