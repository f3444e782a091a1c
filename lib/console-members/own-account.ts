import "server-only";
import { and, desc, eq, gt, isNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { consoleMembers, consolePasswordResets, consoleSessions, type ConsoleMember } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { liveConsoleSession, renewConsoleSession } from "@/lib/auth/console-sign-in";
import { clearConsoleFailures, countConsoleFailure, LOCK_MINUTES, MAX_FAILURES } from "@/lib/auth/console-lockout";
import { hashPassword } from "@/lib/auth/password";
import { proveCurrentPassword } from "@/lib/auth/current-password";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { recordAudit } from "@/lib/audit/record";
import { passwordReservedForOwners, roleMayUsePassword } from "@/lib/console-sso/password-rule";
import { inTransaction } from "@/lib/domain/transaction";
import { assertNewPassword } from "@/lib/end-user/password-strength";
import { ForbiddenError, NotFoundError, RateLimitedError, UnauthenticatedError, ValidationError } from "@/lib/errors";
import { sendMail } from "@/lib/mail";
import { hitRateLimit, limitedAddress } from "@/lib/rate-limit";
import { emailSchema, parseInput, uuidSchema } from "@/lib/validation";
import { publicOrigin } from "@/env";
import { endMemberSessions, lockMembers, voidResetLinks } from ".";
import { revokeTokensActingFor } from "@/lib/api-tokens";
import { consoleSecurity, hasSecondFactor, memberOwner } from "@/lib/second-factor";
import { authorizeOwner } from "@/lib/permissions";
import { env } from "@/env";

// A console member's own account, as Okta's and Keycloak's account pages have it: changing their
// password (the current one proves it is them; a wrong one counts toward their lockout), seeing
// their open sessions and signing out of any or all of the others, and "forgot password" from the
// sign-in page (a one-hour, one-use link by mail). A password set either way ends the member's
// other sessions; a reset ends all of them and leaves the second factor as it was (the link
// proves the mailbox, not the factor, so the next sign-in still asks for it).

export const RESET_MINUTES = 60;
// A mailbox gets at most 5 links an hour; an address may ask for 20 (any emails) an hour.
const RESETS_PER_EMAIL = 5;
const RESETS_PER_ADDRESS = 20;
const RESET_WINDOW_SECONDS = 3600;

const USED_OR_EXPIRED = "This link was already used or has expired; ask for a new one from the sign-in page.";
/** Self-service reset is off (console settings): asking is refused, and so are links the member asked for earlier. */
export const SELF_SERVICE_RESET_OFF = "Members cannot reset a forgotten password themselves in this console: ask an owner to send you a reset link.";

/** The one rule of the console's switch: a link the member asks for (or asked for) is refused while self-service reset is off; an owner's is not. */
async function selfServiceRefusal(executor: Executor, link: { sentByOwner: boolean }): Promise<string | null> {
  return link.sentByOwner || (await consoleSecurity(executor)).selfServiceReset ? null : SELF_SERVICE_RESET_OFF;
}

const passwordField = z.string({ error: "Enter a password." }).max(1000, "At most 1,000 characters.");
const changeInput = z.object({ current: passwordField, password: passwordField, confirm: passwordField });
const resetInput = z.object({ token: z.string(), password: passwordField, confirm: passwordField });
const linkSchema = z.string().regex(/^[A-Za-z0-9_-]{20,100}$/);

function selfId(actor: Actor): string {
  if (actor.type !== "console_member" || !actor.id) throw new ForbiddenError("Only a console member signed in to the console manages their own account.");
  return actor.id;
}

/** Why the member cannot use a console password, or null: one who arrived by SSO has none, and console SSO may keep passwords for owners. */
async function passwordRefusal(executor: Executor, member: Pick<ConsoleMember, "role" | "passwordHash">): Promise<string | null> {
  if (!member.passwordHash) return "You sign in through single sign-on: there is no console password to change.";
  if (!roleMayUsePassword(member.role, await passwordReservedForOwners(executor))) return "Console passwords are kept for owners: you sign in through single sign-on.";
  return null;
}

/** Whether the member may set a password here (for the Security page: what to offer). */
export async function ownPasswordRefusal(actor: Actor): Promise<string | null> {
  const db = getDb();
  const [member] = await db.select().from(consoleMembers).where(eq(consoleMembers.id, selfId(actor)));
  if (!member) throw new NotFoundError("No such console member.");
  return passwordRefusal(db, member);
}

/** The mail that tells a member their password was set (Okta's "your password was changed"): no link, what to do if it was not them. */
function passwordChangedMail(member: Pick<ConsoleMember, "id" | "email" | "name">, how: "changed on the Security page" | "reset with a mailed link") {
  return {
    to: member.email,
    consoleMemberId: member.id,
    subject: "Your identity console password was changed",
    text: `Hello ${member.name},\n\nYour console password was ${how}, and your other sessions were signed out.\nIf this was not you, reset your password at once from the sign-in page ("Forgot your password?"), then tell an owner.\n`,
  };
}

/**
 * Changes the signed-in member's password. The current password must be given and right. Guesses
 * are counted before they are judged, per session (MAX_FAILURES per LOCK_MINUTES: a stolen session
 * cannot guess it), and a wrong one is audited and counts toward the member's lockout too; the
 * lockout itself does not hold the change back (someone elsewhere who knows the email must not stop
 * the member from changing it; the change ends it). The new one follows the console's password
 * rules and differs from the current one. Every other session of the member ends; this browser goes
 * on in a new session (returned, for its cookie: one who copied this session's cookie is signed out
 * too), which ends when the old one would have. The member is mailed that it happened.
 */
export async function changeOwnConsolePassword(
  ctx: DomainContext & { sessionId: string },
  input: unknown,
): Promise<{ sessionsEnded: number; sessionId: string; member: { id: string; email: string; name: string } }> {
  const memberId = selfId(ctx.actor);
  const data = parseInput(changeInput, input);
  if (!data.current) throw ValidationError.field("current", "Enter your current password.");
  const db = getDb();
  const [member] = await db.select().from(consoleMembers).where(eq(consoleMembers.id, memberId));
  if (!member || member.status !== "active") throw new NotFoundError("No such console member.");
  const refusal = await passwordRefusal(db, member);
  if (refusal) throw new ValidationError(refusal);
  assertNewPassword(data, [member.email, member.name]);
  const audit = { action: "console_member.password_change", targetType: "console_member", targetId: memberId, targetLabel: member.email } as const;
  await proveCurrentPassword({
    sessionKey: `console-pw-change:${ctx.sessionId}`,
    limit: MAX_FAILURES,
    windowSeconds: LOCK_MINUTES * 60,
    hash: member.passwordHash,
    current: data.current,
    next: data.password,
    throttled: () => inTransaction((tx) => recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: "too many wrong passwords in this session" })),
    wrong: () =>
      inTransaction(async (tx) => {
        await countConsoleFailure(tx, memberId);
        await recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: "wrong current password" });
      }),
  });
  const newHash = await hashPassword(data.password);
  const { sessionsEnded, sessionId } = await inTransaction(async (tx) => {
    // In turn with every member change (a reset link used, a suspension): the members' lock first, as everywhere.
    await lockMembers(tx);
    // The hash the check was made against: a password changed meanwhile (another session, a reset) is not overwritten.
    const [changed] = await tx
      .update(consoleMembers)
      .set({ passwordHash: newHash, passwordChangedAt: sql`now()`, failedSignIns: 0, lockedUntil: null })
      .where(and(eq(consoleMembers.id, memberId), eq(consoleMembers.status, "active"), eq(consoleMembers.passwordHash, member.passwordHash!)))
      .returning({ id: consoleMembers.id });
    if (!changed) throw new ValidationError("Your password was changed meanwhile; reload the page and try again.");
    await voidResetLinks(tx, memberId);
    const renewed = await renewConsoleSession(tx, memberId, ctx.sessionId, ctx.ip);
    if (!renewed) throw new UnauthenticatedError("Your session has ended. Sign in again.");
    // Every session but the new one; this browser's old one is not counted among the others.
    const ended = (await endMemberSessions(tx, memberId, { except: renewed })) - 1;
    await recordAudit(tx, ctx, { ...audit, after: { sessionsEnded: ended } });
    return { sessionsEnded: ended, sessionId: renewed };
  });
  await sendMail(passwordChangedMail(member, "changed on the Security page"));
  return { sessionsEnded, sessionId, member: { id: member.id, email: member.email, name: member.name } };
}

export type OwnConsoleSession = {
  id: string;
  current: boolean;
  method: "password" | "sso";
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  ip: string | null;
  userAgent: string | null;
};

/** The signed-in member's open console sessions (not ended, expired or idle), the current one first, then by last use. */
export async function listOwnConsoleSessions(ctx: DomainContext & { sessionId: string }, executor: Executor = getDb()): Promise<OwnConsoleSession[]> {
  const memberId = selfId(ctx.actor);
  const rows = await executor
    .select()
    .from(consoleSessions)
    .where(
      and(
        eq(consoleSessions.memberId, memberId),
        liveConsoleSession(),
      ),
    )
    .orderBy(desc(sql`${consoleSessions.id} = ${ctx.sessionId}`), desc(consoleSessions.lastSeenAt))
    .limit(200);
  return rows.map((r) => ({
    id: r.id,
    current: r.id === ctx.sessionId,
    method: r.method,
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    expiresAt: r.expiresAt,
    ip: r.ip,
    userAgent: r.userAgent,
  }));
}


/**
 * Signs the member out of one of their other sessions (its id) or of all of them ("others"); the
 * current session is signed out by the sign-out button instead. Audited with how many ended.
 */
export async function endOwnConsoleSessions(ctx: DomainContext & { sessionId: string }, which: unknown): Promise<{ sessionsEnded: number }> {
  const memberId = selfId(ctx.actor);
  // uuidSchema lowercases: the current session, named in capitals, is still the current session.
  const id = uuidSchema.safeParse(which);
  if (which !== "others" && !id.success) throw new ValidationError("No such session.");
  const target = which === "others" ? "others" : id.data!;
  if (target === ctx.sessionId) throw new ValidationError("This is the session you are using: sign out instead.");
  return inTransaction(async (tx) => {
    let sessionsEnded: number;
    if (target === "others") sessionsEnded = await endMemberSessions(tx, memberId, { except: ctx.sessionId });
    else {
      const [ended] = await tx
        .update(consoleSessions)
        .set({ revokedAt: sql`now()` })
        .where(
          and(eq(consoleSessions.id, target), ne(consoleSessions.id, ctx.sessionId), eq(consoleSessions.memberId, memberId), isNull(consoleSessions.revokedAt), gt(consoleSessions.expiresAt, sql`now()`)),
        )
        .returning({ id: consoleSessions.id });
      if (!ended) throw new NotFoundError("No such session: it has ended already, or is not yours.");
      sessionsEnded = 1;
    }
    await recordAudit(tx, ctx, {
      action: "console_member.sessions_end",
      targetType: "console_member",
      targetId: memberId,
      targetLabel: ctx.actor.label,
      after: { sessionsEnded, which: target === "others" ? "every other session" : target },
    });
    return { sessionsEnded };
  });
}

// ---- Forgot password (no session: the sign-in page) ---------------------------

const anonymous = (label: string): Actor => ({ type: "system", id: null, label });
const memberActor = (member: Pick<ConsoleMember, "id" | "email" | "role">): Actor => ({ type: "console_member", id: member.id, label: member.email, role: member.role, environmentIds: [] });

/**
 * "Forgot password": checks the address and the rate limits (neither depends on whether the member
 * exists, so both are told), then returns the rest of the work, which the caller runs after it has
 * answered, the same whatever the email: when the email is an active member's who signs in with a
 * password, a one-hour link is mailed. Audited either way.
 */
export async function requestConsolePasswordReset(rawEmail: unknown, request: { ip?: string } = {}): Promise<() => Promise<void>> {
  const { email } = parseInput(z.object({ email: emailSchema }), { email: rawEmail });
  const off = await selfServiceRefusal(getDb(), { sentByOwner: false });
  if (off) throw new ForbiddenError(off);
  const [perEmail, perAddress] = await Promise.all([
    hitRateLimit(`console-pw-reset:${email.toLowerCase()}`, RESETS_PER_EMAIL, RESET_WINDOW_SECONDS),
    hitRateLimit(`console-pw-reset-ip:${limitedAddress(request.ip)}`, RESETS_PER_ADDRESS, RESET_WINDOW_SECONDS),
  ]);
  if (!perEmail.allowed || !perAddress.allowed) {
    throw new RateLimitedError(Math.max(perEmail.allowed ? 0 : perEmail.retryAfterSeconds, perAddress.allowed ? 0 : perAddress.retryAfterSeconds));
  }
  return () => mailResetLink(email, request);
}

async function mailResetLink(email: string, request: { ip?: string }): Promise<void> {
  const mail = await inTransaction(async (tx) => {
    // Shared with a suspension (which voids the member's links): a link is never made just after.
    const [member] = await tx.select().from(consoleMembers).where(sql`lower(${consoleMembers.email}) = lower(${email})`).for("share");
    const refusal = !member
      ? "no such member"
      : member.status !== "active"
        ? `member ${member.status}`
        : (await selfServiceRefusal(tx, { sentByOwner: false }))
          ? "self-service password reset is off"
          : await passwordRefusal(tx, member);
    if (refusal || !member) {
      const audit = { action: "console_member.password_reset_requested", targetType: "console_member", targetId: member?.id ?? null, targetLabel: member?.email ?? email } as const;
      await recordAudit(tx, { actor: member ? memberActor(member) : anonymous(email), ip: request.ip }, { ...audit, outcome: "failure", reason: refusal ?? "no such member" });
      return null;
    }
    return issueResetLink(tx, { actor: memberActor(member), ip: request.ip }, member, "console_member.password_reset_requested");
  });
  if (mail) await sendMail(mail);
}

/**
 * A new one-hour link for an active member who signs in with a password, audited, and the mail
 * that carries it. Earlier links stay usable until one is used (which voids the rest): a request
 * from someone else must not void the link the member is about to click.
 */
async function issueResetLink(
  tx: Executor,
  ctx: DomainContext,
  member: ConsoleMember,
  action: "console_member.password_reset_requested" | "console_member.password_reset_sent",
) {
  const token = newSecretToken();
  const sentByOwner = action === "console_member.password_reset_sent";
  const [{ expiresAt }] = (await tx
    .insert(consolePasswordResets)
    .values({ memberId: member.id, tokenHash: hashToken(token), sentByOwner, expiresAt: sql`now() + make_interval(mins => ${RESET_MINUTES})` })
    .returning({ expiresAt: consolePasswordResets.expiresAt })) as [{ expiresAt: Date }];
  // Without SMTP the link waits in the outbox, where owners can read it: the row says so.
  await recordAudit(tx, ctx, {
    action,
    targetType: "console_member",
    targetId: member.id,
    targetLabel: member.email,
    after: { linkDelivered: env().SMTP_URL ? "mail" : "outbox", expiresAt: expiresAt.toISOString() },
  });
  return {
    to: member.email,
    consoleMemberId: member.id,
    // Without SMTP the link waits in the outbox: for owners' eyes only (no one else may set a member's password).
    ownersOnly: true,
    subject: "Reset your identity console password",
    text: `Hello ${member.name},\n\n${sentByOwner ? `${ctx.actor.label}, an owner of the console, sent you this link to set a new console password` : "Set a new console password with this link"} (it works once and expires in ${RESET_MINUTES} minutes):\n\n${publicOrigin()}/sign-in/reset/${token}\n\nSetting it signs you out everywhere; your second factor stays as it is.\n${sentByOwner ? `Your password stays as it is until the link is used. If you did not expect this, ask ${ctx.actor.label} why.` : "If you did not ask for this, ignore this mail: your password is unchanged."}\n`,
    expiresAt,
  };
}

/**
 * An owner sends a member a reset link (Okta's and Keycloak's "send a password reset"): for a
 * member who forgot their password while self-service reset is off, or who cannot get a link for
 * themselves. Their password and sessions stay as they are until the link is used. Owners only, as
 * only owners may read a link waiting in the outbox; not for themselves (their Security page).
 */
export async function sendConsolePasswordReset(ctx: DomainContext, memberId: unknown): Promise<{ expiresAt: Date }> {
  const id = parseInput(uuidSchema, memberId);
  authorizeOwner(ctx.actor, "signed in to the console can send a member a password reset link");
  if (ctx.actor.type === "console_member" && ctx.actor.id === id) throw new ValidationError("Change your own password on your Security page.");
  const { expiresAt, ...mail } = await inTransaction(async (tx) => {
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, id)).for("share");
    if (!member) throw new NotFoundError("Console member not found.");
    if (member.status !== "active") throw new ValidationError(`${member.email} is ${member.status}: only an active member gets a reset link.`);
    if (!member.passwordHash) throw new ValidationError(`${member.email} signs in through single sign-on: there is no console password to reset.`);
    if (!roleMayUsePassword(member.role, await passwordReservedForOwners(tx))) throw new ValidationError(`Console passwords are kept for owners: ${member.email} signs in through single sign-on.`);
    return issueResetLink(tx, ctx, member, "console_member.password_reset_sent");
  });
  await sendMail(mail);
  return { expiresAt };
}

/**
 * The member behind a reset link while it is usable (for showing its form), with why it is refused
 * when self-service reset is off and the member asked for it; does not use it up.
 */
export async function peekConsolePasswordReset(token: string, executor: Executor = getDb()): Promise<{ email: string; refusal?: string } | null> {
  if (!linkSchema.safeParse(token).success) return null;
  const [row] = await executor
    .select({ email: consoleMembers.email, sentByOwner: consolePasswordResets.sentByOwner })
    .from(consolePasswordResets)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consolePasswordResets.memberId))
    .where(and(eq(consolePasswordResets.tokenHash, hashToken(token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`), eq(consoleMembers.status, "active")));
  if (!row) return null;
  const refusal = await selfServiceRefusal(executor, row);
  return refusal ? { email: row.email, refusal } : { email: row.email };
}

/**
 * Sets a new password from a reset link: the link is used up (once, atomically), the lockout is
 * cleared, and every session of the member ends. The member then signs in, with their second
 * factor if they have one. A member who may no longer use a password (suspended meanwhile, or
 * console SSO now keeps passwords for owners) is refused, and the link stays unused.
 */
export async function resetConsolePassword(input: unknown, request: { ip?: string } = {}): Promise<{ email: string }> {
  const data = parseInput(resetInput, input);
  if (!linkSchema.safeParse(data.token).success) throw new ValidationError(USED_OR_EXPIRED);
  const db = getDb();
  const [preview] = await db
    .select({ member: consoleMembers, sentByOwner: consolePasswordResets.sentByOwner })
    .from(consolePasswordResets)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consolePasswordResets.memberId))
    .where(and(eq(consolePasswordResets.tokenHash, hashToken(data.token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`)));
  if (!preview || preview.member.status !== "active") throw new ValidationError(USED_OR_EXPIRED);
  const off = await selfServiceRefusal(db, preview);
  if (off) throw new ValidationError(off);
  assertNewPassword(data, [preview.member.email, preview.member.name]);
  const passwordHash = await hashPassword(data.password);
  const done = await inTransaction(async (tx) => {
    // The members' lock first, as every member change takes it (a removal, a password change): the
    // link's row and the member's are then never taken in opposite orders.
    await lockMembers(tx);
    const [link] = await tx
      .update(consolePasswordResets)
      .set({ usedAt: sql`now()` })
      .where(and(eq(consolePasswordResets.tokenHash, hashToken(data.token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`)))
      .returning({ memberId: consolePasswordResets.memberId, sentByOwner: consolePasswordResets.sentByOwner });
    if (!link) throw new ValidationError(USED_OR_EXPIRED);
    // Read again under the transaction: an owner may have turned self-service off meanwhile.
    const offNow = await selfServiceRefusal(tx, link);
    if (offNow) throw new ValidationError(offNow);
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, link.memberId)).for("no key update");
    if (!member || member.status !== "active") throw new ValidationError(USED_OR_EXPIRED);
    const refusal = await passwordRefusal(tx, member);
    if (refusal) throw new ValidationError(refusal);
    await tx.update(consoleMembers).set({ passwordHash, passwordChangedAt: sql`now()` }).where(eq(consoleMembers.id, member.id));
    // The lockout counts wrong codes too: a reset (the mailbox) clears it only for a member with no
    // second factor, whose failures were all guesses of the password just replaced.
    if (!(await hasSecondFactor(memberOwner(member.id), tx))) await clearConsoleFailures(tx, member.id);
    await voidResetLinks(tx, member.id);
    const ctx: DomainContext = { actor: memberActor(member), ip: request.ip };
    const sessionsEnded = await endMemberSessions(tx, member.id);
    // Account recovery: a reviewer token made in a stolen session goes with the sessions.
    const reviewerCredentialsRevoked = await revokeTokensActingFor(tx, ctx, member.id, "reset");
    await recordAudit(tx, ctx, {
      action: "console_member.password_reset",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      after: { sessionsEnded, reviewerCredentialsRevoked },
    });
    return member;
  });
  await sendMail(passwordChangedMail(done, "reset with a mailed link"));
  return { email: done.email };
}
