import "server-only";
import { mailBranding } from "@/lib/branding";
import { clearLockoutRow, recordFailedSignInRow, reserveSignInAttemptRow, setPasswordRow } from "@/lib/users/rows";
import { revokeSessionRows } from "./session-rows";
import { and, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { environmentAccess, environmentBreakGlassUsers, environments, passwordTokens, sessions, users, type Environment, type User } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { proveCurrentPassword } from "@/lib/auth/current-password";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { env, publicOrigin } from "@/env";
import { NotFoundError, RateLimitedError, UnauthenticatedError, ValidationError } from "@/lib/errors";
import { sendMail } from "@/lib/mail";
import { authorize } from "@/lib/permissions";
import { hitRateLimit, limitedAddress, refundRateLimit, resetRateLimit } from "@/lib/rate-limit";
import { getAuthRow, routeSignIn } from "@/lib/sso/environment-auth";
import { emailSchema, parseInput, uuidSchema } from "@/lib/validation";
import { assertNewPassword } from "./password-strength";
import { createEndUserSession, holdLiveSession, readEndUserSession, renewEndUserSession, type EndUserSession } from "./sessions";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { checkSecondFactor, hasSecondFactor, passkeyOptionsFor, secondFactorRefusal, userOwner } from "@/lib/second-factor";
import { findEnvironmentByKey } from "@/lib/environments";

export const INVITE_DAYS = 7;
export const RESET_MINUTES = 60;
// Throttling (OWASP's "account lockout" with Keycloak-style brute-force detection), kept in Postgres
// so every instance shares it. Three counters hold together:
// - per address, across accounts: 30 attempts a minute, and 20 failed sign-ins in 15 minutes (a
//   success gives its attempt back), so spraying one password over many accounts from one address
//   is slowed to 20 guesses a quarter hour;
// - per account, across addresses: PASSWORD_LOCKOUT_THRESHOLD failures in a row lock the account
//   for PASSWORD_LOCKOUT_MINUTES, doubled at each further failure, at most a day; a lockout always
//   ends, and attempts during it are refused without counting (nor checking the password);
// - per (account, address) for the account's own addresses (one it signed in from in the last
//   30 days): the account's lockout does not apply there, only that pair's own count of failures
//   (PASSWORD_LOCKOUT_THRESHOLD per PASSWORD_LOCKOUT_MINUTES), so an attacker elsewhere who knows
//   only the email delays the owner on new addresses but cannot lock them out of their own.
const PER_ADDRESS_PER_MINUTE = 30;
const PER_ADDRESS_FAILURES = 20;
const PER_ADDRESS_FAILURE_WINDOW_SECONDS = 15 * 60;
const MAX_LOCKOUT_MINUTES = 24 * 60;
const KNOWN_ADDRESS_DAYS = 30;

/** The one answer to every failed password sign-in, whatever the cause (no account enumeration). */
export const INVALID_CREDENTIALS =
  "The email or password is wrong. After repeated failures sign-in is paused for a while; the account's owner gets an email with a link to unlock it.";

type TokenPurpose = "invite" | "reset" | "unlock";

const endUser = (user: Pick<User, "id" | "email">, environmentId: string): Actor => ({ type: "end_user", id: user.id, label: user.email, environmentIds: [environmentId] });
const anonymous = (label: string): Actor => ({ type: "system", id: null, label });

async function issueToken(tx: Executor, userId: string, environmentId: string, purpose: TokenPurpose, minutes: number): Promise<string> {
  // A new link replaces any earlier unused link of the same kind.
  await tx
    .update(passwordTokens)
    .set({ usedAt: sql`now()` })
    .where(and(eq(passwordTokens.userId, userId), eq(passwordTokens.purpose, purpose), isNull(passwordTokens.usedAt)));
  const token = newSecretToken();
  await tx.insert(passwordTokens).values({
    userId,
    environmentId,
    purpose,
    tokenHash: hashToken(token),
    expiresAt: sql`now() + make_interval(mins => ${minutes})`,
  });
  return token;
}

const linkSchema = z.string().regex(/^[A-Za-z0-9_-]{20,100}$/);

/** Whether a link is still usable (for showing its form); does not use it up. */
export async function peekToken(token: string, purpose: TokenPurpose, environmentKey: string) {
  if (!linkSchema.safeParse(token).success) return null;
  const [row] = await getDb()
    .select({ userId: passwordTokens.userId, email: users.email, name: users.name })
    .from(passwordTokens)
    .innerJoin(users, eq(users.id, passwordTokens.userId))
    .innerJoin(environments, eq(environments.id, passwordTokens.environmentId))
    .where(
      and(
        eq(passwordTokens.tokenHash, hashToken(token)),
        eq(passwordTokens.purpose, purpose),
        eq(environments.key, environmentKey),
        isNull(passwordTokens.usedAt),
        sql`${passwordTokens.expiresAt} > now()`,
      ),
    );
  return row ?? null;
}

/** How the user signs in to the environment (its settings, and whether they are one of its break-glass users), with the settings. */
async function signInRouteOf(executor: Executor, user: Pick<User, "id" | "email">, environmentId: string) {
  const [breakGlass] = await executor
    .select({ userId: environmentBreakGlassUsers.userId })
    .from(environmentBreakGlassUsers)
    .where(and(eq(environmentBreakGlassUsers.userId, user.id), eq(environmentBreakGlassUsers.environmentId, environmentId)));
  const settings = await getAuthRow(environmentId, executor);
  return { settings, route: routeSignIn(settings, user.email, !!breakGlass) };
}

/** Uses a link up, atomically: a second use (or a concurrent one) finds nothing. */
/**
 * Voids the user's unused links (invitation, reset, unlock): they were mailed to an address the
 * user no longer has, and using one would set the password of, and prove, the new address.
 */
export async function voidPasswordLinks(tx: Executor, userId: string): Promise<void> {
  await tx.update(passwordTokens).set({ usedAt: sql`now()` }).where(and(eq(passwordTokens.userId, userId), isNull(passwordTokens.usedAt)));
}

async function consumeToken(tx: Executor, token: string, purpose: TokenPurpose, environmentKey: string) {
  if (!linkSchema.safeParse(token).success) return null;
  const [row] = await tx
    .update(passwordTokens)
    .set({ usedAt: sql`now()` })
    .where(
      and(
        eq(passwordTokens.tokenHash, hashToken(token)),
        eq(passwordTokens.purpose, purpose),
        isNull(passwordTokens.usedAt),
        sql`${passwordTokens.expiresAt} > now()`,
        sql`${passwordTokens.environmentId} = (select id from ${environments} where key = ${environmentKey})`,
      ),
    )
    .returning();
  return row ?? null;
}

const inviteInput = z.object({ userId: uuidSchema, environmentId: uuidSchema });

/** Emails the user a one-time link (valid 7 days) to set a password for the environment. */
export async function sendInvitation(ctx: DomainContext, input: unknown): Promise<{ expiresAt: Date }> {
  const { userId, environmentId } = parseInput(inviteInput, input);
  authorize(ctx.actor, "users", "write", [environmentId]);
  const mail = await inTransaction(async (tx) => {
    const [row] = await tx
      .select({ user: users, environment: environments, environmentIds: sql<string[]>`array(select a.environment_id from environment_access a where a.user_id = ${users.id})` })
      .from(users)
      .innerJoin(environmentAccess, and(eq(environmentAccess.userId, users.id), eq(environmentAccess.environmentId, environmentId)))
      .innerJoin(environments, eq(environments.id, environmentId))
      .where(eq(users.id, userId));
    if (!row) throw new NotFoundError("The user cannot enter this environment; grant it first.");
    // The password is account-wide: whoever sends the link that sets it must cover every
    // environment the user can enter.
    authorize(ctx.actor, "users", "write", row.environmentIds);
    if (row.user.status === "suspended" || row.user.status === "deprovisioned") throw new ValidationError(`The user is ${row.user.status}; reactivate them first.`);
    const token = await issueToken(tx, userId, environmentId, "invite", INVITE_DAYS * 24 * 60);
    await recordAudit(tx, ctx, {
      action: "user.invitation_sent",
      targetType: "user",
      targetId: userId,
      targetLabel: row.user.email,
      environment: row.environment,
      after: { expiresInDays: INVITE_DAYS },
    });
    const brand = await mailBranding(row.environment, tx);
    return {
      to: row.user.email,
      userId: row.user.id,
      subject: `You are invited to ${brand.title}`,
      text: `Hello ${row.user.name},\n\nSet your password for ${brand.title} with this link (it works once and expires in ${INVITE_DAYS} days):\n\n${publicOrigin()}/e/${row.environment.key}/invite/${token}\n${brand.footer}`,
    };
  });
  await sendMail(mail);
  return { expiresAt: new Date(Date.now() + INVITE_DAYS * 86_400_000) };
}

const settingLinkPurpose = z.enum(["invite", "reset"], { error: "This link does not set a password." });

const setPasswordInput = z.object({
  token: z.string(),
  password: z.string().max(1000),
  confirm: z.string().max(1000),
});

export type SignedIn = { token: string; environment: Environment; user: User };

/**
 * Sets the password from an invitation or reset link (once), then signs the user in when the
 * environment lets this user use a password (not when SSO is enforced for them, nor when they have
 * a second factor the environment uses: they sign in with it).
 */
export async function setPasswordWithLink(
  linkPurpose: "invite" | "reset",
  environmentKey: string,
  input: unknown,
  request: { ip?: string; userAgent?: string } = {},
): Promise<SignedIn | { token: null; environment: Environment; user: User }> {
  // The page's purpose travels with the form (a bound argument a client can change): only these
  // two set a password. An unlock link would otherwise set one, keep the other sessions a reset
  // ends, and be audited as a reset.
  const purpose = parseInput(settingLinkPurpose, linkPurpose);
  const data = parseInput(setPasswordInput, input);
  const preview = await peekToken(data.token, purpose, environmentKey);
  if (!preview) throw new ValidationError("This link was already used or has expired; ask for a new one.", { token: ["This link was already used or has expired."] });
  assertNewPassword(data, [preview.email, preview.name]);
  const hash = await hashPassword(data.password);
  return inTransaction(async (tx) => {
    const link = await consumeToken(tx, data.token, purpose, environmentKey);
    if (!link) throw new ValidationError("This link was already used or has expired; ask for a new one.", { token: ["This link was already used or has expired."] });
    const [environment] = await tx.select().from(environments).where(eq(environments.id, link.environmentId));
    // A link mailed by SMTP to the user's address proves the email when used. Without SMTP the
    // link sat in the console's outbox, where an admin could read it: it proves nothing.
    const user = await setPasswordRow(tx, link.userId, hash, { endOtherSessions: purpose === "reset", proveEmail: !!env().SMTP_URL });
    if (user.status !== "active") throw new ValidationError(`The account is ${user.status}.`);
    const ctx: DomainContext = { actor: endUser(user!, environment!.id), ip: request.ip };
    await recordAudit(tx, ctx, {
      action: purpose === "invite" ? "user.password_set" : "user.password_reset",
      targetType: "user",
      targetId: user.id,
      targetLabel: user.email,
      environment: environment!,
    });
    const { settings, route } = await signInRouteOf(tx, user, environment!.id);
    if (route.method !== "password") return { token: null, environment: environment!, user };
    // Access revoked since the link was mailed: the password is set, but no session that leads nowhere opens.
    const [access] = await tx.select({ userId: environmentAccess.userId }).from(environmentAccess).where(and(eq(environmentAccess.userId, user.id), eq(environmentAccess.environmentId, environment!.id)));
    if (!access) return { token: null, environment: environment!, user };
    // A link proves the mailbox, not the second factor: a user who has one signs in with it.
    if (settings.secondFactor !== "off" && (await hasSecondFactor(userOwner(user.id), tx))) return { token: null, environment: environment!, user };
    const { token } = await createEndUserSession(tx, { userId: user.id, environmentId: environment!.id, method: "password", ip: request.ip, userAgent: request.userAgent });
    await recordAudit(tx, ctx, { action: "end_user.sign_in", targetType: "user", targetId: user.id, targetLabel: user.email, environment: environment!, after: { method: "password", via: purpose } });
    return { token, environment: environment!, user };
  });
}

/**
 * "Forgot password": mails a one-hour link when the email belongs to an active user of the
 * environment. The caller answers the same whatever happened (the work runs after the response).
 */
export async function requestPasswordReset(environmentKey: string, rawEmail: unknown, request: { ip?: string } = {}): Promise<void> {
  const parsed = emailSchema.safeParse(rawEmail);
  if (!parsed.success) return;
  const email = parsed.data;
  const limited = await hitRateLimit(`pw-reset:${email.toLowerCase()}`, 5, 3600);
  if (!limited.allowed) return;
  const mail = await inTransaction(async (tx) => {
    const [row] = await tx
      .select({ user: users, environment: environments })
      .from(users)
      .innerJoin(environmentAccess, eq(environmentAccess.userId, users.id))
      .innerJoin(environments, and(eq(environments.id, environmentAccess.environmentId), eq(environments.key, environmentKey)))
      .where(sql`lower(${users.email}) = lower(${email})`);
    if (!row || row.user.status !== "active") {
      await recordAudit(tx, { actor: anonymous(email), ip: request.ip }, {
        action: "user.password_reset_requested",
        targetType: "user",
        targetLabel: email,
        outcome: "failure",
        reason: row ? `account ${row.user.status}` : "no such user in this environment",
      });
      return null;
    }
    const token = await issueToken(tx, row.user.id, row.environment.id, "reset", RESET_MINUTES);
    await recordAudit(tx, { actor: endUser(row.user, row.environment.id), ip: request.ip }, {
      action: "user.password_reset_requested",
      targetType: "user",
      targetId: row.user.id,
      targetLabel: row.user.email,
      environment: row.environment,
    });
    const brand = await mailBranding(row.environment, tx);
    return {
      to: row.user.email,
      userId: row.user.id,
      subject: `Reset your ${brand.title} password`,
      text: `Hello ${row.user.name},\n\nReset your password with this link (it works once and expires in ${RESET_MINUTES} minutes):\n\n${publicOrigin()}/e/${row.environment.key}/reset/${token}\n\nIf you did not ask for this, ignore this mail.\n${brand.footer}`,
    };
  });
  if (mail) await sendMail(mail);
}

/**
 * Every failure from the threshold on arms a lockout (guesses during one are not counted), doubling
 * each time: the owner gets an unlock link for each, valid as long as the lock lasts. Null below it.
 */
async function lockoutMail(tx: Executor, user: Pick<User, "id" | "email" | "name">, environment: Environment, count: number) {
  const { PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES } = env();
  if (count < PASSWORD_LOCKOUT_THRESHOLD) return null;
  const lockMinutes = Math.min(PASSWORD_LOCKOUT_MINUTES * 2 ** Math.min(count - PASSWORD_LOCKOUT_THRESHOLD, 20), Math.max(MAX_LOCKOUT_MINUTES, PASSWORD_LOCKOUT_MINUTES));
  const token = await issueToken(tx, user.id, environment.id, "unlock", lockMinutes);
  const brand = await mailBranding(environment, tx);
  return {
    to: user.email,
    userId: user.id,
    subject: `Your ${brand.title} sign-in is paused`,
    text: `Hello ${user.name},\n\nThere were ${PASSWORD_LOCKOUT_THRESHOLD} or more failed sign-ins to your account, so password sign-in is paused for ${lockMinutes} minutes.\nIf it was you, unlock it now with this link (it works once):\n\n${publicOrigin()}/e/${environment.key}/unlock/${token}\n\nIf it was not you, consider resetting your password.\n${brand.footer}`,
  };
}

/** Unlocks an account locked by failed sign-ins, from the link mailed when it locked. */
export async function unlockWithLink(environmentKey: string, token: string, request: { ip?: string } = {}): Promise<boolean> {
  return inTransaction(async (tx) => {
    const link = await consumeToken(tx, token, "unlock", environmentKey);
    if (!link) return false;
    const user = await clearLockoutRow(tx, link.userId, { signedIn: false });
    const [environment] = await tx.select().from(environments).where(eq(environments.id, link.environmentId));
    await recordAudit(tx, { actor: endUser(user, link.environmentId), ip: request.ip }, { action: "user.unlock", targetType: "user", targetId: user.id, targetLabel: user.email, environment: environment! });
    return true;
  });
}

/**
 * `secondStep`: the password was right and the user has a second factor this environment uses: a
 * sealed token (five minutes) that completeSecondFactorSignIn takes with the code.
 */
export type PasswordSignInResult = { ok: true; signedIn: SignedIn } | { ok: false; message: string; secondStep?: string };

// No NUL (no text column holds one): refused before the attempt is counted against the address.
const signInInput = z.object({ email: z.string().max(320).refine((e) => !e.includes("\0"), "Enter a valid email address."), password: z.string().max(1000) });

/** Whether the account signed in from this address (any method, any environment) in the last 30 days. */
async function isKnownAddress(userId: string, address: string | undefined): Promise<boolean> {
  if (!address || address === "unknown") return false;
  // Only since the password was last set: after a reset, an intruder's address is no longer known.
  const [row] = await getDb()
    .select({ id: sessions.id })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(
      and(
        eq(sessions.userId, userId),
        eq(sessions.ip, address),
        sql`${sessions.createdAt} > now() - make_interval(days => ${KNOWN_ADDRESS_DAYS})`,
        sql`${sessions.createdAt} >= coalesce(${users.passwordChangedAt}, '-infinity')`,
      ),
    )
    .limit(1);
  return !!row;
}

/**
 * Password sign-in into one environment. Unknown emails cost the same argon2 work and get the
 * same answer as wrong passwords and locked accounts. Throttled per address, per account and per
 * (account, address): see the counters above.
 */
export async function signInWithPassword(
  environmentKey: string,
  input: unknown,
  request: { ip?: string; userAgent?: string } = {},
): Promise<PasswordSignInResult> {
  const data = parseInput(signInInput, input);
  const email = data.email.trim().toLowerCase();
  const db = getDb();
  const [environment] = await db.select().from(environments).where(eq(environments.key, environmentKey));
  if (!environment) throw new NotFoundError("No such environment.");

  const address = request.ip ?? "unknown";
  const failuresKey = addressFailuresKey(request.ip);
  // Every attempt counts as a failure of its address up front (so concurrent guesses cannot slip
  // past the limit); a success gives it back.
  const [perMinute, failures] = await Promise.all([
    hitRateLimit(`pw-ip:${limitedAddress(address)}`, PER_ADDRESS_PER_MINUTE, 60),
    hitRateLimit(failuresKey, PER_ADDRESS_FAILURES, PER_ADDRESS_FAILURE_WINDOW_SECONDS),
  ]);
  if (!perMinute.allowed || !failures.allowed) {
    throw new RateLimitedError(Math.max(perMinute.allowed ? 0 : perMinute.retryAfterSeconds, failures.allowed ? 0 : failures.retryAfterSeconds));
  }

  const [row] = await db
    .select({ user: users, hasAccess: sql<boolean>`${environmentAccess.userId} is not null`, breakGlass: sql<boolean>`${environmentBreakGlassUsers.userId} is not null` })
    .from(users)
    .leftJoin(environmentAccess, and(eq(environmentAccess.userId, users.id), eq(environmentAccess.environmentId, environment.id)))
    .leftJoin(environmentBreakGlassUsers, and(eq(environmentBreakGlassUsers.userId, users.id), eq(environmentBreakGlassUsers.environmentId, environment.id)))
    .where(sql`lower(${users.email}) = ${email}`);
  const user = row?.user;
  const [passwordOk, settings, knownAddress] = await Promise.all([
    verifyPassword(user?.passwordHash, data.password),
    getAuthRow(environment.id),
    user ? isKnownAddress(user.id, request.ip) : false,
  ]);
  const route = routeSignIn(settings, email, !!row?.breakGlass);
  const { PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES } = env();
  const pairKey = user ? pairFailuresKey(user.id, request.ip) : "";
  // Attempts are counted before the password is judged, each in one atomic step, so guesses sent in
  // parallel (each reading an unlocked row before any failure is written) cannot pass the
  // threshold: from elsewhere, the account's failure count (and the lockout it arms) is taken on
  // the user row only while the account is not locked; from the account's own address, the pair's
  // count. A success clears both.
  const reserved = user && !knownAddress ? await reserveSignInAttemptRow(getDb(), user.id, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES, Math.max(MAX_LOCKOUT_MINUTES, PASSWORD_LOCKOUT_MINUTES)) : null;
  const pairAttempt = user && knownAddress ? await hitRateLimit(pairKey, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES * 60) : null;
  const maxMinutes = Math.max(MAX_LOCKOUT_MINUTES, PASSWORD_LOCKOUT_MINUTES);

  // `failures`: the account's failure count this attempt reached ("record": count it now, for a
  // wrong password from the account's own address). From the threshold on, each armed a lockout.
  const failure = (reason: string, failures?: number | "record") =>
    inTransaction(async (tx) => {
      let count = typeof failures === "number" ? failures : 0;
      if (user && failures === "record") count = await recordFailedSignInRow(tx, user.id, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES, maxMinutes);
      // The right password refused for another reason (suspended, no access, SSO enforced) was no
      // guess: the attempt counted up front is cleared as a success would, so it arms no lockout.
      if (user && passwordOk && reserved !== null) await clearLockoutRow(tx, user.id, { signedIn: false });
      const lockedNow = !!user && count >= PASSWORD_LOCKOUT_THRESHOLD;
      await auditPasswordSignIn(tx, environment, request, user ?? email.slice(0, 320), { outcome: "failure", reason: lockedNow ? `${reason}; account locked` : reason });
      return user ? lockoutMail(tx, user, environment, count) : null;
    }).then(async (mail) => {
      if (mail) await sendMail(mail);
      return { ok: false as const, message: INVALID_CREDENTIALS };
    });

  if (!user) return failure("unknown email");
  // The account's own address: only this pair's attempts hold it back, not the account's lockout.
  if (knownAddress && !pairAttempt!.allowed) return failure("too many failures from this address");
  if (!knownAddress && reserved === null) return failure("account locked");
  if (!user.passwordHash) return failure("no password set");
  if (!passwordOk) return failure("wrong password", knownAddress ? "record" : reserved!);
  if (user.status !== "active") return failure(`account ${user.status}`);
  if (!row!.hasAccess) return failure("no access to this environment");
  if (route.method !== "password") return failure(route.method === "sso" ? "SSO is enforced for this email" : "password sign-in is off");

  // A second factor, where the environment uses them and the user has one: the attempt stays counted
  // (a password alone is not a sign-in) until the code is right.
  if (settings.secondFactor !== "off" && (await hasSecondFactor(userOwner(user.id)))) {
    return { ok: false, message: SECOND_STEP_MESSAGE, secondStep: sealSecondStep(user.id, environment.id) };
  }

  await Promise.all([refundRateLimit(failuresKey), knownAddress ? resetRateLimit(pairKey) : undefined]);
  return inTransaction(async (tx) => {
    return openPasswordSession(tx, user, environment, request, { breakGlass: !!row!.breakGlass && settings.ssoEnabled });
  });
}

/** A password sign-in that passed every check: the lockout cleared, the session, the audit row. */
async function openPasswordSession(
  tx: Executor,
  user: User,
  environment: Environment,
  request: { ip?: string; userAgent?: string },
  detail: { breakGlass?: boolean; secondFactor?: string },
): Promise<{ ok: true; signedIn: SignedIn }> {
  const updated = await clearLockoutRow(tx, user.id, { signedIn: true });
  const { token } = await createEndUserSession(tx, { userId: user.id, environmentId: environment.id, method: "password", secondFactor: detail.secondFactor, ip: request.ip, userAgent: request.userAgent });
  await auditPasswordSignIn(tx, environment, request, user, { after: detail });
  return { ok: true, signedIn: { token, environment, user: updated } };
}

/** The audit row of a password sign-in attempt: by the user (or, unknown, by the email typed), with the method and what else it says. */
async function auditPasswordSignIn(
  tx: Executor,
  environment: Environment,
  request: { ip?: string },
  who: User | string,
  entry: { outcome?: "failure"; reason?: string; after?: Record<string, unknown> },
) {
  const user = typeof who === "string" ? null : who;
  await recordAudit(tx, { actor: user ? endUser(user, environment.id) : anonymous(who as string), ip: request.ip }, {
    action: "end_user.sign_in",
    targetType: "user",
    targetId: user?.id ?? null,
    targetLabel: user?.email ?? (who as string),
    environment,
    ...(entry.outcome ? { outcome: entry.outcome, reason: entry.reason } : {}),
    after: { method: "password", ...entry.after },
  });
}

/** The counter of an account's attempts from one of its own addresses (which its lockout does not hold back). */
const pairFailuresKey = (userId: string, ip: string | undefined) => `pw-pair:${userId}:${ip ?? "unknown"}`;

/** The per-address failure counter of password sign-ins (counted up front, given back by a success). */
const addressFailuresKey = (ip: string | undefined) => `pw-ip-fail:${limitedAddress(ip)}`;

// ---- The second step ------------------------------------------------------------

const SECOND_STEP_PURPOSE = "end-user-second-step";
const SECOND_STEP_MINUTES = 5;
export const SECOND_STEP_MESSAGE = "Enter the code from your authenticator app, or a recovery code.";

function sealSecondStep(userId: string, environmentId: string): string {
  return sealSecret(SECOND_STEP_PURPOSE, JSON.stringify({ u: userId, e: environmentId, x: Date.now() + SECOND_STEP_MINUTES * 60_000 }));
}

function openSecondStep(token: string): { userId: string; environmentId: string } | null {
  try {
    const { u, e, x } = JSON.parse(openSecret(SECOND_STEP_PURPOSE, token)) as { u: string; e: string; x: number };
    return typeof u === "string" && typeof e === "string" && x > Date.now() ? { userId: u, environmentId: e } : null;
  } catch {
    return null;
  }
}

const secondStepInput = z.object({ secondStep: z.string().max(2000), code: z.string().max(16_000) });

/**
 * The second step of a password sign-in: the sealed token of the first (the right password, five
 * minutes) and a code (or a passkey's answer). The user must still be active, allowed in, and not
 * locked; a wrong code counts toward the lockout like a wrong password, and is audited.
 */
export async function completeSecondFactorSignIn(
  environmentKey: string,
  input: unknown,
  request: { ip?: string; userAgent?: string } = {},
): Promise<PasswordSignInResult> {
  const data = parseInput(secondStepInput, input);
  const step = openSecondStep(data.secondStep);
  const db = getDb();
  const [environment] = await db.select().from(environments).where(eq(environments.key, environmentKey));
  if (!environment) throw new NotFoundError("No such environment.");
  const expired = { ok: false as const, message: "The sign-in took too long: enter your email and password again." };
  if (!step || step.environmentId !== environment.id) return expired;
  const [row] = await db
    .select({ user: users, hasAccess: sql<boolean>`${environmentAccess.userId} is not null` })
    .from(users)
    .leftJoin(environmentAccess, and(eq(environmentAccess.userId, users.id), eq(environmentAccess.environmentId, environment.id)))
    .where(eq(users.id, step.userId));
  if (!row || row.user.status !== "active" || !row.hasAccess) return expired;
  const user = row.user;
  // Refused after the right password: audited with the reason, answered without one (a lockout is never told).
  const refused = async (reason: string, message = expired.message) => {
    await auditPasswordSignIn(db, environment, request, user, { outcome: "failure", reason: `second step: ${reason}` });
    return { ok: false as const, message };
  };
  // The environment may have stopped taking passwords (SSO enforced, passwords off) since the first step.
  const { route } = await signInRouteOf(db, user, environment.id);
  if (route.method !== "password") {
    return refused(route.method === "sso" ? "SSO is enforced for this email" : "password sign-in is off", "Password sign-in is no longer used here: start again from the sign-in page.");
  }
  const { PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES } = env();
  const maxMinutes = Math.max(MAX_LOCKOUT_MINUTES, PASSWORD_LOCKOUT_MINUTES);
  // As at the password step: from the account's own address only that pair's attempts hold it back
  // (someone elsewhere who knows the email and locks the account must not keep its owner out), from
  // elsewhere the account's lockout. The attempt is counted before the code is judged, in one atomic
  // step: guesses sent in parallel queue on the user row (or the pair's counter), and none is judged
  // past a lockout another armed. A right code clears the count (openPasswordSession).
  const knownAddress = await isKnownAddress(user.id, request.ip);
  const pairKey = pairFailuresKey(user.id, request.ip);
  let reserved: number | null = null;
  if (knownAddress) {
    if (!(await hitRateLimit(pairKey, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES * 60)).allowed) return refused("too many failures from this address");
  } else {
    if (user.lockedUntil && user.lockedUntil > new Date()) return refused("account locked");
    reserved = await reserveSignInAttemptRow(db, user.id, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES, maxMinutes);
    if (reserved === null) return refused("account locked");
  }
  const outcome = await inTransaction(async (tx) => {
    const check = await checkSecondFactor(tx, userOwner(user.id), data.code);
    if (!check.ok) return check;
    return openPasswordSession(tx, user, environment, request, { secondFactor: check.method });
  });
  if (outcome.ok) {
    await Promise.all([refundRateLimit(addressFailuresKey(request.ip)), knownAddress ? resetRateLimit(pairKey) : undefined]);
    return outcome;
  }
  // A wrong code counts toward the lockout like a wrong password (counted above, or now from the
  // account's own address, as a wrong password from there is), and the lock that arms mails the same unlock link.
  const mail = await inTransaction(async (tx) => {
    const count = knownAddress ? await recordFailedSignInRow(tx, user.id, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES, maxMinutes) : reserved!;
    await auditPasswordSignIn(tx, environment, request, user, { outcome: "failure", reason: `second factor ${outcome.reason}${count >= PASSWORD_LOCKOUT_THRESHOLD ? "; account locked" : ""}` });
    return lockoutMail(tx, user, environment, count);
  });
  if (mail) await sendMail(mail);
  return { ok: false, message: secondFactorRefusal(outcome.reason), secondStep: data.secondStep };
}

/** The passkey challenge of a second step (null when the token expired or the user has no passkey). */
export async function secondStepPasskeyOptions(environmentKey: string, secondStep: unknown) {
  if (typeof secondStep !== "string" || secondStep.length > 2000) return null;
  const step = openSecondStep(secondStep);
  const environment = step ? await findEnvironmentByKey(environmentKey) : undefined;
  if (!step || !environment || environment.id !== step.environmentId) return null;
  return passkeyOptionsFor(userOwner(step.userId));
}

// ---- The signed-in user's own password and sessions -------------------------------

const SESSION_ENDED = "Your session has ended. Sign in again.";

/**
 * The live session behind the cookie, fit for changing the account everywhere: not while a second
 * factor must be added first, and, for a user who has one, only a session that proved it (a
 * password alone, where this environment asks for no factor, must not change the password every
 * environment uses nor sign the others out).
 */
async function ownSession(environmentKey: string, sessionToken: string | undefined): Promise<EndUserSession> {
  const current = await readEndUserSession(environmentKey, sessionToken);
  if (!current) throw new UnauthenticatedError(SESSION_ENDED);
  if (current.mustEnrol) throw new ValidationError("Add a second factor first: this environment requires one.");
  if (current.session.method === "password" && !current.session.secondFactor && (await hasSecondFactor(userOwner(current.user.id)))) {
    throw new ValidationError("Sign in again with your second factor first: this changes your account in every environment.");
  }
  return current;
}

/**
 * Why the user cannot change their password on this environment's page, or null: they have none
 * (they arrived by SSO), or this environment sends them to SSO (the password, account-wide, is
 * changed where it is used).
 */
export async function endUserPasswordRefusal(current: EndUserSession, executor: Executor = getDb()): Promise<string | null> {
  if (!current.user.passwordHash) return "You have no password: you sign in through single sign-on.";
  const { route } = await signInRouteOf(executor, current.user, current.environment.id);
  return route.method === "password" ? null : "You sign in here through single sign-on, so your password is not used here.";
}

const changeOwnPasswordInput = z.object({
  current: z.string({ error: "Enter your current password." }).max(1000, "At most 1,000 characters."),
  password: z.string({ error: "Enter a password." }).max(1000, "At most 1,000 characters."),
  confirm: z.string({ error: "Enter the password again." }).max(1000, "At most 1,000 characters."),
});

/**
 * Changes the signed-in user's password. The current password proves it is them. Guesses are
 * counted before they are judged, per session (PASSWORD_LOCKOUT_THRESHOLD per
 * PASSWORD_LOCKOUT_MINUTES: a session left open cannot be used to guess it), and a wrong one counts
 * toward the account's lockout too, with its unlock mail; the account's lockout itself does not
 * hold the change back (someone elsewhere who knows the email must not stop the owner from
 * changing it). Every other session of the user ends, in every environment, with the tokens and
 * app grants they gave; this browser goes on in a new session (returned, for its cookie: a copy of
 * the old cookie is signed out too). The user is mailed that it happened.
 */
export async function changeOwnPassword(
  environmentKey: string,
  sessionToken: string | undefined,
  input: unknown,
  request: { ip?: string; userAgent?: string } = {},
): Promise<{ sessionsEnded: number; token: string }> {
  const current = await ownSession(environmentKey, sessionToken);
  const { user, environment, session } = current;
  const data = parseInput(changeOwnPasswordInput, input);
  if (!data.current) throw ValidationError.field("current", "Enter your current password.");
  const refusal = await endUserPasswordRefusal(current);
  if (refusal) throw new ValidationError(refusal);
  assertNewPassword(data, [user.email, user.name]);
  const { PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES } = env();
  const ctx: DomainContext = { actor: endUser(user, environment.id), ip: request.ip };
  const audit = { action: "user.password_change", targetType: "user", targetId: user.id, targetLabel: user.email, environment } as const;
  await proveCurrentPassword({
    sessionKey: `pw-change:${session.id}`,
    limit: PASSWORD_LOCKOUT_THRESHOLD,
    windowSeconds: PASSWORD_LOCKOUT_MINUTES * 60,
    hash: user.passwordHash,
    current: data.current,
    next: data.password,
    throttled: () => inTransaction((tx) => recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: "too many wrong passwords in this session" })),
    // Counted as a wrong password at sign-in is, with the unlock mail when it locks the account.
    wrong: async () => {
      const mail = await inTransaction(async (tx) => {
        const count = await recordFailedSignInRow(tx, user.id, PASSWORD_LOCKOUT_THRESHOLD, PASSWORD_LOCKOUT_MINUTES, Math.max(MAX_LOCKOUT_MINUTES, PASSWORD_LOCKOUT_MINUTES));
        await recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: count >= PASSWORD_LOCKOUT_THRESHOLD ? "wrong current password; account locked" : "wrong current password" });
        return lockoutMail(tx, user, environment, count);
      });
      if (mail) await sendMail(mail);
    },
  });
  const hash = await hashPassword(data.password);
  const result = await inTransaction(async (tx) => {
    // The session, read again with the user's row held: suspended, signed out elsewhere or reset meanwhile, it changes nothing.
    if (!(await holdLiveSession(tx, session))) throw new UnauthenticatedError(SESSION_ENDED);
    const [still] = await tx.select({ hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    if (still?.hash !== user.passwordHash) throw new ValidationError("Your password was changed meanwhile; reload the page and try again.");
    await setPasswordRow(tx, user.id, hash, { endOtherSessions: false, proveEmail: false, signedIn: false });
    await voidPasswordLinks(tx, user.id);
    const renewed = await renewEndUserSession(tx, session, request);
    // Every session but the new one; this browser's old one is not counted among the others.
    const sessionsEnded = (await revokeSessionRows(tx, [user.id], undefined, { except: renewed.id })) - 1;
    await recordAudit(tx, ctx, { ...audit, after: { sessionsEnded } });
    const brand = await mailBranding(environment, tx);
    const mail = {
      to: user.email,
      userId: user.id,
      subject: `Your ${brand.title} password was changed`,
      text: `Hello ${user.name},\n\nYour password was changed, and your other sessions were signed out.\nIf this was not you, reset your password at once from the sign-in page (${publicOrigin()}/e/${environment.key}/forgot) and tell your administrator.\n${brand.footer}`,
    };
    return { sessionsEnded, token: renewed.token, mail };
  });
  await sendMail(result.mail);
  return { sessionsEnded: result.sessionsEnded, token: result.token };
}

/**
 * "Sign out everywhere else": every other session of the user ends, in every environment (and with
 * them the tokens and app grants they gave); this one stays. Audited with how many.
 */
export async function signOutOtherSessions(environmentKey: string, sessionToken: string | undefined, request: { ip?: string } = {}): Promise<{ sessionsEnded: number }> {
  const { user, environment, session } = await ownSession(environmentKey, sessionToken);
  return inTransaction(async (tx) => {
    if (!(await holdLiveSession(tx, session))) throw new UnauthenticatedError(SESSION_ENDED);
    const sessionsEnded = await revokeSessionRows(tx, [user.id], undefined, { except: session.id });
    await recordAudit(tx, { actor: endUser(user, environment.id), ip: request.ip }, {
      action: "end_user.sign_out_others",
      targetType: "user",
      targetId: user.id,
      targetLabel: user.email,
      environment,
      after: { sessionsEnded },
    });
    return { sessionsEnded };
  });
}
