import "server-only";
import { and, asc, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import type { SecondFactorKind } from "@/db/enums";
import { consoleMembers, consoleSessions, consoleSettings, environmentAccess, environmentAuth, recoveryCodes as codeRows, secondFactors, users } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { clearConsoleFailures, consoleLockedUntil, countConsoleFailure } from "@/lib/auth/console-lockout";
import { recordAudit } from "@/lib/audit/record";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { inTransaction } from "@/lib/domain/transaction";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { environmentIdsOf } from "@/lib/groups/membership-rows";
import { authorize, authorizeOwner } from "@/lib/permissions";
import { endSessionsRow } from "@/lib/users/rows";
import { voidSelfServiceResetLinks } from "@/lib/console-members";
import { parseInput, uuidSchema } from "@/lib/validation";
import { checkPasskey, isPasskeyAnswer, passkeyAuthenticationOptions, passkeyRegistrationOptions, verifyPasskeyRegistration } from "./passkeys";
import { memberOwner, ownedBy, ownerColumns, userOwner, type FactorOwner } from "./owner";
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from "./recovery-codes";
import { checkTotp, newTotpSecret, totpEnrolment } from "./totp";

// Second factors of console members and of end users: the one writer of second_factors,
// recovery_codes, webauthn_challenges and console_settings. A person manages their own factors (an
// authenticator app, passkeys, recovery codes); an owner resets a console member's, an admin of the
// user's environments an end user's (audited, and their sessions end). Sign-in (console and end
// users) and the console's step-up check what the person gives here: a TOTP code is used once (the
// step of the last accepted code is kept, and advanced with a guard so two racing requests cannot
// both win), a recovery code once (marked used in the statement that finds it), a passkey answer
// once (its challenge is deleted by the answer that uses it).

export { memberOwner, userOwner, type FactorOwner } from "./owner";

const SEAL_PURPOSE = "console-totp";
/** The longest answer taken: a passkey's JSON (a code is far shorter). */
export const MAX_ANSWER_LENGTH = 16_000;
/** How long a proven second factor covers sensitive console actions before they ask for it again. */
export const STEP_UP_MINUTES = 15;

export type FactorView = { id: string; kind: SecondFactorKind; name: string; createdAt: Date; lastUsedAt: Date | null };
export type SecondFactorSummary = { factors: FactorView[]; recoveryCodesLeft: number };

/** The person acting on their own factors: a console member or an end user (API tokens and machines have none). */
function selfOwner(actor: Actor): FactorOwner {
  if (actor.type === "console_member" && actor.id) return memberOwner(actor.id);
  if (actor.type === "end_user" && actor.id) return userOwner(actor.id);
  throw new ForbiddenError("Only a signed-in person manages their own second factors.");
}

const confirmed = (owner: FactorOwner) => and(ownedBy(secondFactors, owner), isNotNull(secondFactors.confirmedAt));

/** The audit row's target and action prefix for the owner. */
const audited = (owner: FactorOwner, label: string) =>
  owner.kind === "member"
    ? { prefix: "console_member", target: { targetType: "console_member", targetId: owner.id, targetLabel: label } }
    : { prefix: "user", target: { targetType: "user", targetId: owner.id, targetLabel: label } };

/** An owner's confirmed factors, oldest first, and how many recovery codes are left. */
export async function secondFactorsOf(owner: FactorOwner, executor: Executor = getDb()): Promise<SecondFactorSummary> {
  const factors = await executor
    .select({ id: secondFactors.id, kind: secondFactors.kind, name: secondFactors.name, createdAt: secondFactors.createdAt, lastUsedAt: secondFactors.lastUsedAt })
    .from(secondFactors)
    .where(confirmed(owner))
    .orderBy(asc(secondFactors.createdAt), asc(secondFactors.id));
  const [codes] = await executor
    .select({ n: sql<number>`count(*)::int` })
    .from(codeRows)
    .where(and(ownedBy(codeRows, owner), isNull(codeRows.usedAt)));
  return { factors, recoveryCodesLeft: codes?.n ?? 0 };
}

export async function hasSecondFactor(owner: FactorOwner, executor: Executor = getDb()): Promise<boolean> {
  const [row] = await executor.select({ id: secondFactors.id }).from(secondFactors).where(confirmed(owner)).limit(1);
  return !!row;
}

/** The owner's email (the account name an authenticator app shows). */
async function accountOf(executor: Executor, owner: FactorOwner): Promise<string> {
  const [row] =
    owner.kind === "member"
      ? await executor.select({ email: consoleMembers.email }).from(consoleMembers).where(eq(consoleMembers.id, owner.id))
      : await executor.select({ email: users.email }).from(users).where(eq(users.id, owner.id));
  if (!row) throw new NotFoundError(owner.kind === "member" ? "Console member not found." : "User not found.");
  return row.email;
}

// ---- Enrolment ---------------------------------------------------------------

/**
 * Starts adding an authenticator app: a new secret (sealed, pending until its first code), the
 * otpauth URI and its QR code. An earlier pending one of the same person is dropped.
 */
export async function startTotpEnrolment(ctx: DomainContext): Promise<{ factorId: string; secret: string; uri: string; qrSvg: string }> {
  const owner = selfOwner(ctx.actor);
  const secret = newTotpSecret();
  return inTransaction(async (tx) => {
    const account = await accountOf(tx, owner);
    await tx.delete(secondFactors).where(and(ownedBy(secondFactors, owner), eq(secondFactors.kind, "totp"), isNull(secondFactors.confirmedAt)));
    const [row] = await tx
      .insert(secondFactors)
      .values({ ...ownerColumns(owner), kind: "totp", name: "Authenticator app", secretSealed: sealSecret(SEAL_PURPOSE, secret) })
      .returning({ id: secondFactors.id });
    const { uri, qrSvg } = await totpEnrolment({ secret, issuer: "IAM Console", account });
    return { factorId: row!.id, secret, uri, qrSvg };
  });
}

const confirmTotpInput = z.object({
  factorId: uuidSchema,
  code: z.string({ error: "Enter the 6-digit code your app shows." }).trim().min(1, "Enter the 6-digit code your app shows.").max(20, "Enter the 6-digit code your app shows."),
  name: z.string({ error: "A name is text." }).trim().min(1, "Name the app (for example, your phone).").max(60, "A name has at most 60 characters.").default("Authenticator app"),
});

/**
 * Confirms an authenticator app with its first code. The person's first factor comes with ten
 * recovery codes, returned here once (only their hashes are kept), and makes the console session
 * that confirmed it count as having proven a second factor now (a further factor does not).
 */
export async function confirmTotpEnrolment(ctx: DomainContext & { sessionId?: string }, input: unknown): Promise<{ factor: FactorView; recoveryCodes: string[] | null }> {
  const owner = selfOwner(ctx.actor);
  const data = parseInput(confirmTotpInput, input);
  return inTransaction(async (tx) => {
    const [pending] = await tx
      .select()
      .from(secondFactors)
      .where(and(eq(secondFactors.id, data.factorId), ownedBy(secondFactors, owner), eq(secondFactors.kind, "totp")))
      .for("update");
    if (!pending) throw new NotFoundError("This enrolment is gone: start again.");
    if (pending.confirmedAt) throw new ConflictError("This authenticator app is already confirmed.");
    const check = await checkTotp(openSecret(SEAL_PURPOSE, pending.secretSealed!, "The authenticator secret"), data.code, null);
    if (!check.ok) throw ValidationError.field("code", check.reason === "malformed" ? "Enter the 6-digit code your app shows." : "That code is not right: check the app's clock and try the current code.");
    const first = !(await hasSecondFactor(owner, tx));
    const [factor] = await tx
      .update(secondFactors)
      .set({ confirmedAt: sql`now()`, lastUsedAt: sql`now()`, lastTimeStep: check.timeStep, name: data.name })
      .where(eq(secondFactors.id, pending.id))
      .returning();
    return factorAdded(tx, ctx, owner, factor!, first);
  });
}

/**
 * What follows a confirmed factor: the person's first comes with ten recovery codes (returned once)
 * and makes the console session that added it count as having proven a second factor now; then the audit row.
 */
async function factorAdded(tx: Tx, ctx: DomainContext & { sessionId?: string }, owner: FactorOwner, factor: typeof secondFactors.$inferSelect, first: boolean) {
  const recoveryCodes = first ? await replaceRecoveryCodes(tx, owner) : null;
  // Adding the first factor proves it in this session; adding another proves nothing the session
  // had not (adding one asks for a step-up first, lib/actions), or a stolen session could add its
  // own factor to pass every step-up.
  if (first && ctx.sessionId && owner.kind === "member") {
    await tx.update(consoleSessions).set({ secondFactorAt: sql`now()` }).where(and(eq(consoleSessions.id, ctx.sessionId), eq(consoleSessions.memberId, owner.id)));
  }
  const { prefix, target } = audited(owner, ctx.actor.label);
  await recordAudit(tx, ctx, { action: `${prefix}.second_factor.add`, ...target, after: { kind: factor.kind, name: factor.name, recoveryCodes: recoveryCodes ? recoveryCodes.length : undefined } });
  return { factor: view(factor), recoveryCodes };
}

/** Starts adding a passkey: the options the browser's WebAuthn call takes (a challenge for five minutes). */
export async function startPasskeyRegistration(ctx: DomainContext) {
  const owner = selfOwner(ctx.actor);
  return inTransaction(async (tx) => passkeyRegistrationOptions(tx, owner, await accountOf(tx, owner)));
}

const finishPasskeyInput = z.object({
  response: z.record(z.string(), z.unknown(), { error: "This is not a passkey registration." }),
  name: z.string({ error: "A name is text." }).trim().min(1, "Name the passkey (for example, your laptop).").max(60, "A name has at most 60 characters.").default("Passkey"),
});

/** Stores the passkey the browser created, once verified against the registration challenge. */
export async function finishPasskeyRegistration(ctx: DomainContext & { sessionId?: string }, input: unknown): Promise<{ factor: FactorView; recoveryCodes: string[] | null }> {
  const owner = selfOwner(ctx.actor);
  const data = parseInput(finishPasskeyInput, input);
  return inTransaction(async (tx) => {
    const credential = await verifyPasskeyRegistration(tx, owner, data.response);
    const first = !(await hasSecondFactor(owner, tx));
    const [factor] = await tx
      .insert(secondFactors)
      .values({ ...ownerColumns(owner), kind: "passkey", name: data.name, ...credential, confirmedAt: sql`now()`, lastUsedAt: sql`now()` })
      .onConflictDoNothing({ target: secondFactors.credentialId })
      .returning();
    if (!factor) throw ValidationError.field("response", "This passkey is already registered.");
    return factorAdded(tx, ctx, owner, factor, first);
  });
}

const view = (f: typeof secondFactors.$inferSelect): FactorView => ({ id: f.id, kind: f.kind, name: f.name, createdAt: f.createdAt, lastUsedAt: f.lastUsedAt });

async function replaceRecoveryCodes(tx: Tx, owner: FactorOwner): Promise<string[]> {
  const codes = newRecoveryCodes();
  await tx.delete(codeRows).where(ownedBy(codeRows, owner));
  await tx.insert(codeRows).values(codes.map((code) => ({ ...ownerColumns(owner), codeHash: hashRecoveryCode(code) })));
  return codes;
}

/** Ten new recovery codes for the person (the old ones stop working), shown once. Needs a second factor. */
export async function regenerateRecoveryCodes(ctx: DomainContext): Promise<{ recoveryCodes: string[] }> {
  const owner = selfOwner(ctx.actor);
  return inTransaction(async (tx) => {
    if (!(await hasSecondFactor(owner, tx))) throw new ConflictError("Add an authenticator app or a passkey first: recovery codes stand in for it.");
    const recoveryCodes = await replaceRecoveryCodes(tx, owner);
    const { prefix, target } = audited(owner, ctx.actor.label);
    await recordAudit(tx, ctx, { action: `${prefix}.recovery_codes.regenerate`, ...target, after: { recoveryCodes: recoveryCodes.length } });
    return { recoveryCodes };
  });
}

/** Why the owner's last factor must stay, or null: the console requires one, or an environment the user can enter does. */
async function lastFactorMustStay(tx: Tx, owner: FactorOwner): Promise<string | null> {
  if (owner.kind === "member") {
    return (await consoleSecurity(tx)).requireSecondFactor ? "The console requires a second factor: add another before removing this one." : null;
  }
  const [required] = await tx
    .select({ id: environmentAuth.environmentId })
    .from(environmentAuth)
    .innerJoin(environmentAccess, eq(environmentAccess.environmentId, environmentAuth.environmentId))
    .where(and(eq(environmentAccess.userId, owner.id), eq(environmentAuth.secondFactor, "required")))
    .limit(1);
  return required ? "An environment you use requires a second factor: add another before removing this one." : null;
}

/**
 * Removes one of the person's own factors. Where a second factor is required, the last one cannot
 * go (add another first). Removing the last drops the recovery codes too.
 */
export async function removeSecondFactor(ctx: DomainContext, factorId: string): Promise<{ removed: boolean }> {
  const owner = selfOwner(ctx.actor);
  const id = parseInput(uuidSchema, factorId);
  return inTransaction(async (tx) => {
    const [factor] = await tx.select().from(secondFactors).where(and(eq(secondFactors.id, id), ownedBy(secondFactors, owner))).for("update");
    if (!factor || !factor.confirmedAt) throw new NotFoundError("Second factor not found.");
    const { factors } = await secondFactorsOf(owner, tx);
    const last = factors.length === 1;
    const mustStay = last ? await lastFactorMustStay(tx, owner) : null;
    if (mustStay) throw new ConflictError(mustStay);
    await tx.delete(secondFactors).where(eq(secondFactors.id, id));
    if (last) await tx.delete(codeRows).where(ownedBy(codeRows, owner));
    const { prefix, target } = audited(owner, ctx.actor.label);
    await recordAudit(tx, ctx, { action: `${prefix}.second_factor.remove`, ...target, before: { kind: factor.kind, name: factor.name } });
    return { removed: true };
  });
}

/** Deletes every factor and recovery code of the owner; how many confirmed factors went. */
async function dropAll(tx: Tx, owner: FactorOwner): Promise<number> {
  const removed = await tx.delete(secondFactors).where(ownedBy(secondFactors, owner)).returning({ confirmedAt: secondFactors.confirmedAt });
  await tx.delete(codeRows).where(ownedBy(codeRows, owner));
  return removed.filter((f) => f.confirmedAt).length;
}

/**
 * An owner resets another member's second factors (a lost phone): the factors and recovery codes
 * go and the member's sessions end; they sign in with their password and, when the console
 * requires it, enrol again. Only an owner signed in to the console may, and not on themselves.
 */
export async function resetMemberSecondFactors(ctx: DomainContext, memberId: string): Promise<{ removed: number; sessionsEnded: number }> {
  const id = parseInput(uuidSchema, memberId);
  const actor = ctx.actor;
  authorizeOwner(actor, "signed in to the console can reset a member's second factors");
  if (actor.type === "console_member" && actor.id === id) throw new ValidationError("Manage your own second factors on your security page.");
  return inTransaction(async (tx) => {
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, id)).for("update");
    if (!member) throw new NotFoundError("Console member not found.");
    const removed = await dropAll(tx, memberOwner(id));
    const ended = await tx
      .update(consoleSessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(consoleSessions.memberId, id), isNull(consoleSessions.revokedAt)))
      .returning({ id: consoleSessions.id });
    await recordAudit(tx, ctx, {
      action: "console_member.second_factor.reset",
      ...audited(memberOwner(id), member.email).target,
      before: { factors: removed },
      after: { factors: 0, sessionsEnded: ended.length },
    });
    return { removed, sessionsEnded: ended.length };
  });
}

/**
 * An admin of every environment the user can enter resets the user's second factors (a lost
 * phone): factors and recovery codes go and the user is signed out everywhere; where a second
 * factor is required they enrol again at their next sign-in.
 */
export async function resetUserSecondFactors(ctx: DomainContext, userId: string): Promise<{ removed: number }> {
  const id = parseInput(uuidSchema, userId);
  return inTransaction(async (tx) => {
    const [user] = await tx.select({ id: users.id, email: users.email }).from(users).where(eq(users.id, id)).for("update");
    if (!user) throw new NotFoundError("User not found.");
    authorize(ctx.actor, "users", "write", await environmentIdsOf(tx, id));
    const removed = await dropAll(tx, userOwner(id));
    await endSessionsRow(tx, id);
    await recordAudit(tx, ctx, { action: "user.second_factor.reset", ...audited(userOwner(id), user.email).target, before: { factors: removed }, after: { factors: 0 } });
    return { removed };
  });
}

// ---- Checking a code ----------------------------------------------------------

export type SecondFactorMethod = "totp" | "recovery_code" | "passkey";
export type SecondFactorCheck = { ok: true; method: SecondFactorMethod } | { ok: false; reason: "malformed" | "wrong" | "replayed" };

/**
 * Checks what the person gave: a passkey's answer to their live challenge, a current authenticator
 * code, or an unused recovery code (each once). Call in the transaction that opens the session or
 * records the step-up.
 */
export async function checkSecondFactor(tx: Tx, owner: FactorOwner, input: string): Promise<SecondFactorCheck> {
  if (isPasskeyAnswer(input)) {
    const passkey = await checkPasskey(tx, owner, input);
    return passkey.ok ? { ok: true, method: "passkey" } : passkey;
  }
  const code = input.trim();
  if (looksLikeRecoveryCode(code)) {
    const [used] = await tx
      .update(codeRows)
      .set({ usedAt: sql`now()` })
      .where(and(ownedBy(codeRows, owner), eq(codeRows.codeHash, hashRecoveryCode(code)), isNull(codeRows.usedAt)))
      .returning({ id: codeRows.id });
    return used ? { ok: true, method: "recovery_code" } : { ok: false, reason: "wrong" };
  }
  const apps = await tx.select().from(secondFactors).where(and(confirmed(owner), eq(secondFactors.kind, "totp")));
  let result: SecondFactorCheck = { ok: false, reason: /^\d{6}$/.test(code.replace(/\s+/g, "")) ? "wrong" : "malformed" };
  for (const app of apps) {
    const check = await checkTotp(openSecret(SEAL_PURPOSE, app.secretSealed!, "The authenticator secret"), code, app.lastTimeStep);
    if (!check.ok) {
      if (check.reason === "replayed") result = { ok: false, reason: "replayed" };
      continue;
    }
    // Advance the last step only forward: a racing request with the same code finds no row.
    const [advanced] = await tx
      .update(secondFactors)
      .set({ lastTimeStep: check.timeStep, lastUsedAt: sql`now()` })
      .where(and(eq(secondFactors.id, app.id), or(isNull(secondFactors.lastTimeStep), lt(secondFactors.lastTimeStep, check.timeStep))))
      .returning({ id: secondFactors.id });
    return advanced ? { ok: true, method: "totp" } : { ok: false, reason: "replayed" };
  }
  return result;
}

/** Why a typed code was refused, for the person who typed it. */
export function secondFactorRefusal(reason: "malformed" | "wrong" | "replayed"): string {
  if (reason === "malformed") return "Enter the 6-digit code from your authenticator app, or a recovery code.";
  if (reason === "replayed") return "That code was already used: wait for the next one.";
  return "That code is not right.";
}

/** The passkey options for a second step of `owner` (null when they have no passkey). */
export function passkeyOptionsFor(owner: FactorOwner, executor: Executor = getDb()) {
  return passkeyAuthenticationOptions(executor, owner);
}

// ---- The console's step-up -------------------------------------------------------

function selfMember(actor: Actor): string {
  if (actor.type !== "console_member" || !actor.id) throw new ForbiddenError("Only a console member signed in to the console confirms a second factor here.");
  return actor.id;
}

/**
 * Step-up: the signed-in member proves a second factor again, for the sensitive actions that ask
 * for one when the last proof is older than STEP_UP_MINUTES. A wrong code is audited.
 */
export async function confirmSecondFactor(ctx: DomainContext & { sessionId: string }, code: unknown): Promise<{ confirmed: true }> {
  const memberId = selfMember(ctx.actor);
  const typed = parseInput(z.string({ error: "Enter a code." }).trim().min(1, "Enter a code.").max(MAX_ANSWER_LENGTH, "Enter a code."), code);
  const outcome = await inTransaction(async (tx): Promise<SecondFactorCheck | { ok: false; reason: "locked" }> => {
    // Wrong codes count toward the member's lockout, as at sign-in: a stolen session cannot guess its way past step-up.
    if (await consoleLockedUntil(tx, memberId)) {
      await recordAudit(tx, ctx, { action: "console_member.step_up", targetType: "console_member", targetId: memberId, targetLabel: ctx.actor.label, outcome: "failure", reason: "locked" });
      return { ok: false, reason: "locked" };
    }
    const check = await checkSecondFactor(tx, memberOwner(memberId), typed);
    if (check.ok) {
      await tx.update(consoleSessions).set({ secondFactorAt: sql`now()` }).where(and(eq(consoleSessions.id, ctx.sessionId), eq(consoleSessions.memberId, memberId)));
      await clearConsoleFailures(tx, memberId);
    } else await countConsoleFailure(tx, memberId);
    await recordAudit(tx, ctx, {
      action: "console_member.step_up",
      targetType: "console_member",
      targetId: memberId,
      targetLabel: ctx.actor.label,
      outcome: check.ok ? "success" : "failure",
      reason: check.ok ? null : check.reason,
      after: check.ok ? { method: check.method } : undefined,
    });
    return check;
  });
  if (!outcome.ok) throw ValidationError.field("code", outcome.reason === "locked" ? "Too many wrong passwords or codes: try again in a few minutes." : secondFactorRefusal(outcome.reason));
  return { confirmed: true };
}

/** The passkey options for a step-up of the signed-in member (null when they have no passkey). */
export async function stepUpPasskeyOptions(ctx: DomainContext) {
  return passkeyOptionsFor(memberOwner(selfMember(ctx.actor)));
}

/**
 * Whether a sensitive action may go ahead in this session: yes for members without a second factor
 * (nothing to ask; the console's requirement sends them to enrol first), and for members who proved
 * one in the last STEP_UP_MINUTES.
 */
export async function stepUpSatisfied(memberId: string, sessionId: string, executor: Executor = getDb()): Promise<boolean> {
  if (!(await hasSecondFactor(memberOwner(memberId), executor))) return true;
  const [row] = await executor
    .select({ fresh: sql<boolean>`${consoleSessions.secondFactorAt} > now() - make_interval(mins => ${STEP_UP_MINUTES})` })
    .from(consoleSessions)
    .where(eq(consoleSessions.id, sessionId));
  return row?.fresh === true;
}

// ---- The console's requirement -----------------------------------------------

export type ConsoleSecurity = { requireSecondFactor: boolean; selfServiceReset: boolean };

/** The console's own security settings (one row, lib/second-factor writes it): defaults until an owner changes one. */
export async function consoleSecurity(executor: Executor = getDb()): Promise<ConsoleSecurity> {
  const [row] = await executor
    .select({ requireSecondFactor: consoleSettings.requireSecondFactor, selfServiceReset: consoleSettings.selfServiceReset })
    .from(consoleSettings)
    .limit(1);
  return { requireSecondFactor: row?.requireSecondFactor ?? false, selfServiceReset: row?.selfServiceReset ?? true };
}

// Two owners changing settings at once: each audit row's "before" is what the other left.
async function saveConsoleSecurity(tx: Executor, ctx: DomainContext, change: Partial<ConsoleSecurity>, effects: Record<string, unknown> = {}): Promise<ConsoleSecurity> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('console_settings'))`);
  const before = await consoleSecurity(tx);
  const after = { ...before, ...change };
  await tx
    .insert(consoleSettings)
    .values({ id: true, ...after })
    .onConflictDoUpdate({ target: consoleSettings.id, set: { ...change, updatedAt: sql`now()` } });
  await recordAudit(tx, ctx, { action: "console.security.update", targetType: "console", targetId: null, targetLabel: "Console security", before, after: { ...after, ...effects } });
  return after;
}

/** Owners turn "require a second factor for every console member" on or off (audited). */
export async function setRequireSecondFactor(ctx: DomainContext, input: unknown): Promise<{ requireSecondFactor: boolean }> {
  const { requireSecondFactor } = parseInput(z.object({ requireSecondFactor: z.boolean({ error: "Say on or off." }) }), input);
  const actor = ctx.actor;
  authorizeOwner(actor, "can change whether the console requires a second factor");
  return inTransaction(async (tx) => {
    if (requireSecondFactor && actor.type === "console_member" && !(await hasSecondFactor(memberOwner(actor.id!), tx))) {
      throw new ConflictError("Add a second factor to your own account first, so you are not sent to enrol by your own rule.");
    }
    await saveConsoleSecurity(tx, ctx, { requireSecondFactor });
    return { requireSecondFactor };
  });
}

/**
 * Owners turn members' self-service password reset ("Forgot your password?" on the sign-in page)
 * on or off (audited). Off, the sign-in page offers no link, asking for one is refused with the
 * reason, and links a member asked for earlier stop working; an owner can still send a member a
 * link from Settings → Members.
 */
export async function setConsolePasswordReset(ctx: DomainContext, input: unknown): Promise<{ selfServiceReset: boolean; linksVoided: number }> {
  const { selfServiceReset } = parseInput(z.object({ selfServiceReset: z.boolean({ error: "Say on or off." }) }), input);
  authorizeOwner(ctx.actor, "can change whether members reset a forgotten password themselves");
  return inTransaction(async (tx) => {
    // Turned off, the links members asked for go at once (turning it on again does not revive them).
    const linksVoided = selfServiceReset ? 0 : await voidSelfServiceResetLinks(tx);
    await saveConsoleSecurity(tx, ctx, { selfServiceReset }, { linksVoided });
    return { selfServiceReset, linksVoided };
  });
}
