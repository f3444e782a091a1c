import "server-only";
import { and, desc, eq, gt, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { consoleMembers, consolePasswordResets, consoleSessions, type ConsoleMember } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { CONSOLE_IDLE_MINUTES } from "@/lib/auth/console-sign-in";
import { clearConsoleFailures, consoleLockedUntil, countConsoleFailure } from "@/lib/auth/console-lockout";
import { hashPassword, verifyPassword } from "@/lib/auth/password";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { recordAudit } from "@/lib/audit/record";
import { passwordReservedForOwners } from "@/lib/console-sso/password-rule";
import { inTransaction } from "@/lib/domain/transaction";
import { passwordProblems } from "@/lib/end-user/password-strength";
import { ForbiddenError, NotFoundError, RateLimitedError, ValidationError } from "@/lib/errors";
import { sendMail } from "@/lib/mail";
import { hitRateLimit } from "@/lib/rate-limit";
import { emailSchema, parseInput } from "@/lib/validation";
import { publicOrigin } from "@/env";
import { endMemberSessions } from ".";

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
const LOCKED = "Too many wrong passwords or codes: try again in a few minutes.";

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
  if (member.role !== "owner" && (await passwordReservedForOwners(executor))) return "Console passwords are kept for owners: you sign in through single sign-on.";
  return null;
}

/** Whether the member may set a password here (for the Security page: what to offer). */
export async function ownPasswordRefusal(actor: Actor): Promise<string | null> {
  const db = getDb();
  const [member] = await db.select().from(consoleMembers).where(eq(consoleMembers.id, selfId(actor)));
  if (!member) throw new NotFoundError("No such console member.");
  return passwordRefusal(db, member);
}

/** The new password's problems (strength, the two entries differing), as field errors. */
function checkNewPassword(data: { password: string; confirm: string }, member: Pick<ConsoleMember, "email" | "name">) {
  const problems = passwordProblems(data.password, [member.email, member.name]);
  if (problems.length) throw new ValidationError(problems[0]!, { password: problems });
  if (data.password !== data.confirm) throw ValidationError.field("confirm", "The passwords do not match.");
}

/** Voids the member's unused reset links (a password set another way makes them pointless). */
async function voidResetLinks(tx: Executor, memberId: string) {
  await tx
    .update(consolePasswordResets)
    .set({ usedAt: sql`now()` })
    .where(and(eq(consolePasswordResets.memberId, memberId), isNull(consolePasswordResets.usedAt)));
}

/**
 * Changes the signed-in member's password. The current password must be given and right (a wrong
 * one is audited and counts toward the member's lockout, so a stolen session cannot guess it); the
 * new one follows the console's password rules and differs from the current one. Every other
 * session of the member ends; this one stays.
 */
export async function changeOwnConsolePassword(ctx: DomainContext & { sessionId: string }, input: unknown): Promise<{ sessionsEnded: number }> {
  const memberId = selfId(ctx.actor);
  const data = parseInput(changeInput, input);
  if (!data.current) throw ValidationError.field("current", "Enter your current password.");
  const db = getDb();
  const [member] = await db.select().from(consoleMembers).where(eq(consoleMembers.id, memberId));
  if (!member || member.status !== "active") throw new NotFoundError("No such console member.");
  const refusal = await passwordRefusal(db, member);
  if (refusal) throw new ValidationError(refusal);
  checkNewPassword(data, member);
  const [currentOk, unchanged] = await Promise.all([verifyPassword(member.passwordHash, data.current), verifyPassword(member.passwordHash, data.password)]);
  const newHash = currentOk && !unchanged ? await hashPassword(data.password) : null;
  const audit = { action: "console_member.password_change", targetType: "console_member", targetId: memberId, targetLabel: member.email } as const;
  const outcome = await inTransaction(async (tx): Promise<{ ok: true; sessionsEnded: number } | { ok: false; reason: "locked" | "wrong" }> => {
    // In turn with the member's other guesses (sign-in, step-up): the row is held.
    if (await consoleLockedUntil(tx, memberId)) {
      await recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: "locked" });
      return { ok: false, reason: "locked" };
    }
    if (!currentOk) {
      await countConsoleFailure(tx, memberId);
      await recordAudit(tx, ctx, { ...audit, outcome: "failure", reason: "wrong current password" });
      return { ok: false, reason: "wrong" };
    }
    if (!newHash) return { ok: true, sessionsEnded: -1 };
    // The hash the check was made against: a password changed meanwhile (another session, a reset) is not overwritten.
    const [changed] = await tx
      .update(consoleMembers)
      .set({ passwordHash: newHash, failedSignIns: 0, lockedUntil: null })
      .where(and(eq(consoleMembers.id, memberId), eq(consoleMembers.status, "active"), eq(consoleMembers.passwordHash, member.passwordHash!)))
      .returning({ id: consoleMembers.id });
    if (!changed) throw new ValidationError("Your password was changed meanwhile; reload the page and try again.");
    await voidResetLinks(tx, memberId);
    const sessionsEnded = await endMemberSessions(tx, memberId, { except: ctx.sessionId });
    await recordAudit(tx, ctx, { ...audit, after: { sessionsEnded } });
    return { ok: true, sessionsEnded };
  });
  if (!outcome.ok) throw ValidationError.field("current", outcome.reason === "locked" ? LOCKED : "That is not your current password.");
  if (outcome.sessionsEnded < 0) throw ValidationError.field("password", "Choose a password other than your current one.");
  return { sessionsEnded: outcome.sessionsEnded };
}

export type OwnConsoleSession = {
  id: string;
  current: boolean;
  method: "password" | "sso";
  secondFactor: boolean;
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
        isNull(consoleSessions.revokedAt),
        gt(consoleSessions.expiresAt, sql`now()`),
        gt(consoleSessions.lastSeenAt, sql`now() - make_interval(mins => ${CONSOLE_IDLE_MINUTES})`),
      ),
    )
    .orderBy(desc(sql`${consoleSessions.id} = ${ctx.sessionId}`), desc(consoleSessions.lastSeenAt))
    .limit(200);
  return rows.map((r) => ({
    id: r.id,
    current: r.id === ctx.sessionId,
    method: r.method,
    secondFactor: r.secondFactorAt !== null || r.method === "sso",
    createdAt: r.createdAt,
    lastSeenAt: r.lastSeenAt,
    expiresAt: r.expiresAt,
    ip: r.ip,
    userAgent: r.userAgent,
  }));
}

const endInput = z.union([z.literal("others"), z.uuid({ error: "No such session." })], { error: "No such session." });

/**
 * Signs the member out of one of their other sessions (its id) or of all of them ("others"); the
 * current session is signed out by the sign-out button instead. Audited with how many ended.
 */
export async function endOwnConsoleSessions(ctx: DomainContext & { sessionId: string }, which: unknown): Promise<{ sessionsEnded: number }> {
  const memberId = selfId(ctx.actor);
  const target = parseInput(endInput, which);
  if (target === ctx.sessionId) throw new ValidationError("This is the session you are using: sign out instead.");
  return inTransaction(async (tx) => {
    let sessionsEnded: number;
    if (target === "others") sessionsEnded = await endMemberSessions(tx, memberId, { except: ctx.sessionId });
    else {
      const [ended] = await tx
        .update(consoleSessions)
        .set({ revokedAt: sql`now()` })
        .where(and(eq(consoleSessions.id, target), eq(consoleSessions.memberId, memberId), isNull(consoleSessions.revokedAt), gt(consoleSessions.expiresAt, sql`now()`)))
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
  const [perEmail, perAddress] = await Promise.all([
    hitRateLimit(`console-pw-reset:${email.toLowerCase()}`, RESETS_PER_EMAIL, RESET_WINDOW_SECONDS),
    hitRateLimit(`console-pw-reset-ip:${request.ip ?? "unknown"}`, RESETS_PER_ADDRESS, RESET_WINDOW_SECONDS),
  ]);
  if (!perEmail.allowed || !perAddress.allowed) {
    throw new RateLimitedError(Math.max(perEmail.allowed ? 0 : perEmail.retryAfterSeconds, perAddress.allowed ? 0 : perAddress.retryAfterSeconds));
  }
  return () => mailResetLink(email, request);
}

async function mailResetLink(email: string, request: { ip?: string }): Promise<void> {
  const mail = await inTransaction(async (tx) => {
    const [member] = await tx.select().from(consoleMembers).where(sql`lower(${consoleMembers.email}) = lower(${email})`);
    const refusal = !member ? "no such member" : member.status !== "active" ? `member ${member.status}` : await passwordRefusal(tx, member);
    const audit = { action: "console_member.password_reset_requested", targetType: "console_member", targetId: member?.id ?? null, targetLabel: member?.email ?? email } as const;
    if (refusal || !member) {
      await recordAudit(tx, { actor: member ? memberActor(member) : anonymous(email), ip: request.ip }, { ...audit, outcome: "failure", reason: refusal ?? "no such member" });
      return null;
    }
    await voidResetLinks(tx, member.id);
    const token = newSecretToken();
    await tx.insert(consolePasswordResets).values({ memberId: member.id, tokenHash: hashToken(token), expiresAt: sql`now() + make_interval(mins => ${RESET_MINUTES})` });
    await recordAudit(tx, { actor: memberActor(member), ip: request.ip }, audit);
    return {
      to: member.email,
      consoleMemberId: member.id,
      subject: "Reset your identity console password",
      text: `Hello ${member.name},\n\nSet a new console password with this link (it works once and expires in ${RESET_MINUTES} minutes):\n\n${publicOrigin()}/sign-in/reset/${token}\n\nSetting it signs you out everywhere; your second factor stays as it is.\nIf you did not ask for this, ignore this mail: your password is unchanged.\n`,
    };
  });
  if (mail) await sendMail(mail);
}

/** The member behind a reset link while it is usable (for showing its form); does not use it up. */
export async function peekConsolePasswordReset(token: string, executor: Executor = getDb()): Promise<{ email: string } | null> {
  if (!linkSchema.safeParse(token).success) return null;
  const [row] = await executor
    .select({ email: consoleMembers.email })
    .from(consolePasswordResets)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consolePasswordResets.memberId))
    .where(and(eq(consolePasswordResets.tokenHash, hashToken(token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`), eq(consoleMembers.status, "active")));
  return row ?? null;
}

/**
 * Sets a new password from a reset link: the link is used up (once, atomically), the lockout is
 * cleared, and every session of the member ends. The member then signs in, with their second
 * factor if they have one. A member who may no longer use a password (suspended meanwhile, or
 * console SSO now keeps passwords for owners) is refused, and the link stays unused.
 */
export async function resetConsolePassword(input: unknown, request: { ip?: string } = {}): Promise<{ email: string }> {
  const data = parseInput(resetInput, input);
  if (!linkSchema.safeParse(data.token).success) throw new ValidationError(USED_OR_EXPIRED, { token: [USED_OR_EXPIRED] });
  const db = getDb();
  const [preview] = await db
    .select({ member: consoleMembers })
    .from(consolePasswordResets)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consolePasswordResets.memberId))
    .where(and(eq(consolePasswordResets.tokenHash, hashToken(data.token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`)));
  if (!preview || preview.member.status !== "active") throw new ValidationError(USED_OR_EXPIRED, { token: [USED_OR_EXPIRED] });
  checkNewPassword(data, preview.member);
  const passwordHash = await hashPassword(data.password);
  return inTransaction(async (tx) => {
    const [link] = await tx
      .update(consolePasswordResets)
      .set({ usedAt: sql`now()` })
      .where(and(eq(consolePasswordResets.tokenHash, hashToken(data.token)), isNull(consolePasswordResets.usedAt), gt(consolePasswordResets.expiresAt, sql`now()`)))
      .returning({ memberId: consolePasswordResets.memberId });
    if (!link) throw new ValidationError(USED_OR_EXPIRED, { token: [USED_OR_EXPIRED] });
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, link.memberId)).for("no key update");
    if (!member || member.status !== "active") throw new ValidationError(USED_OR_EXPIRED, { token: [USED_OR_EXPIRED] });
    const refusal = await passwordRefusal(tx, member);
    if (refusal) throw new ValidationError(refusal, { token: [refusal] });
    await tx.update(consoleMembers).set({ passwordHash }).where(eq(consoleMembers.id, member.id));
    await clearConsoleFailures(tx, member.id);
    await voidResetLinks(tx, member.id);
    const sessionsEnded = await endMemberSessions(tx, member.id);
    await recordAudit(tx, { actor: memberActor(member), ip: request.ip }, {
      action: "console_member.password_reset",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      after: { sessionsEnded },
    });
    return { email: member.email };
  });
}
