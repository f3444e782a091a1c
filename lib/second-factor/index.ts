import "server-only";
import { and, asc, eq, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import type { SecondFactorKind } from "@/db/enums";
import { consoleMemberFactors, consoleMembers, consoleRecoveryCodes, consoleSessions, consoleSettings } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { inTransaction } from "@/lib/domain/transaction";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { parseInput, uuidSchema } from "@/lib/validation";
import { checkPasskey, isPasskeyAnswer, passkeyAuthenticationOptions, passkeyRegistrationOptions, verifyPasskeyRegistration } from "./passkeys";
import { hashRecoveryCode, looksLikeRecoveryCode, newRecoveryCodes } from "./recovery-codes";
import { checkTotp, newTotpSecret, totpEnrolment } from "./totp";

// Console members' second factors: the one writer of console_member_factors, console_recovery_codes
// and console_settings. A member manages their own factors (an authenticator app, recovery codes);
// an owner can reset another member's (audited, and that member's sessions end). Sign-in
// (lib/auth/console-sign-in.ts) and step-up for sensitive actions check a code here: a TOTP code is
// used once (the step of the last accepted code is kept, and advanced with a guard so two racing
// requests cannot both win), a recovery code once (marked used in the same statement that finds it).

const SEAL_PURPOSE = "console-totp";
/** The longest answer taken: a passkey's JSON (a code is far shorter). */
export const MAX_ANSWER_LENGTH = 16_000;
/** How long a proven second factor covers sensitive actions before they ask for it again. */
export const STEP_UP_MINUTES = 15;

export type FactorView = { id: string; kind: SecondFactorKind; name: string; createdAt: Date; lastUsedAt: Date | null };
export type SecondFactorSummary = { factors: FactorView[]; recoveryCodesLeft: number };

/** The signed-in member acting on their own factors (API tokens and machines have none). */
function selfMember(actor: Actor): string {
  if (actor.type !== "console_member" || !actor.id) throw new ForbiddenError("Only a console member signed in to the console manages their second factors.");
  return actor.id;
}

const confirmed = (memberId: string) => and(eq(consoleMemberFactors.memberId, memberId), isNotNull(consoleMemberFactors.confirmedAt));

/** A member's confirmed factors, oldest first, and how many recovery codes are left. */
export async function secondFactorsOf(memberId: string, executor: Executor = getDb()): Promise<SecondFactorSummary> {
  const factors = await executor
    .select({ id: consoleMemberFactors.id, kind: consoleMemberFactors.kind, name: consoleMemberFactors.name, createdAt: consoleMemberFactors.createdAt, lastUsedAt: consoleMemberFactors.lastUsedAt })
    .from(consoleMemberFactors)
    .where(confirmed(memberId))
    .orderBy(asc(consoleMemberFactors.createdAt), asc(consoleMemberFactors.id));
  const [codes] = await executor
    .select({ n: sql<number>`count(*)::int` })
    .from(consoleRecoveryCodes)
    .where(and(eq(consoleRecoveryCodes.memberId, memberId), isNull(consoleRecoveryCodes.usedAt)));
  return { factors, recoveryCodesLeft: codes?.n ?? 0 };
}

export async function hasSecondFactor(memberId: string, executor: Executor = getDb()): Promise<boolean> {
  const [row] = await executor.select({ id: consoleMemberFactors.id }).from(consoleMemberFactors).where(confirmed(memberId)).limit(1);
  return !!row;
}

// ---- Enrolment ---------------------------------------------------------------

/**
 * Starts adding an authenticator app: a new secret (sealed, pending until its first code), the
 * otpauth URI and its QR code. An earlier pending one of the member is dropped.
 */
export async function startTotpEnrolment(ctx: DomainContext): Promise<{ factorId: string; secret: string; uri: string; qrSvg: string }> {
  const memberId = selfMember(ctx.actor);
  const secret = newTotpSecret();
  return inTransaction(async (tx) => {
    const [member] = await tx.select({ email: consoleMembers.email }).from(consoleMembers).where(eq(consoleMembers.id, memberId));
    if (!member) throw new NotFoundError("Console member not found.");
    await tx.delete(consoleMemberFactors).where(and(eq(consoleMemberFactors.memberId, memberId), eq(consoleMemberFactors.kind, "totp"), isNull(consoleMemberFactors.confirmedAt)));
    const [row] = await tx
      .insert(consoleMemberFactors)
      .values({ memberId, kind: "totp", name: "Authenticator app", secretSealed: sealSecret(SEAL_PURPOSE, secret) })
      .returning({ id: consoleMemberFactors.id });
    const { uri, qrSvg } = await totpEnrolment({ secret, issuer: "IAM Console", account: member.email });
    return { factorId: row!.id, secret, uri, qrSvg };
  });
}

const confirmTotpInput = z.object({
  factorId: uuidSchema,
  code: z.string({ error: "Enter the 6-digit code your app shows." }).trim().min(1, "Enter the 6-digit code your app shows.").max(20, "Enter the 6-digit code your app shows."),
  name: z.string({ error: "A name is text." }).trim().min(1, "Name the app (for example, your phone).").max(60, "A name has at most 60 characters.").default("Authenticator app"),
});

/**
 * Confirms an authenticator app with its first code. The member's first factor comes with ten
 * recovery codes, returned here once (only their hashes are kept). The session that confirmed it
 * counts as having proven a second factor now.
 */
export async function confirmTotpEnrolment(ctx: DomainContext & { sessionId?: string }, input: unknown): Promise<{ factor: FactorView; recoveryCodes: string[] | null }> {
  const memberId = selfMember(ctx.actor);
  const data = parseInput(confirmTotpInput, input);
  return inTransaction(async (tx) => {
    const [pending] = await tx
      .select()
      .from(consoleMemberFactors)
      .where(and(eq(consoleMemberFactors.id, data.factorId), eq(consoleMemberFactors.memberId, memberId), eq(consoleMemberFactors.kind, "totp")))
      .for("update");
    if (!pending) throw new NotFoundError("This enrolment is gone: start again.");
    if (pending.confirmedAt) throw new ConflictError("This authenticator app is already confirmed.");
    const check = await checkTotp(openSecret(SEAL_PURPOSE, pending.secretSealed!, "The authenticator secret"), data.code, null);
    if (!check.ok) throw ValidationError.field("code", check.reason === "malformed" ? "Enter the 6-digit code your app shows." : "That code is not right: check the app's clock and try the current code.");
    const first = !(await hasSecondFactor(memberId, tx));
    const [factor] = await tx
      .update(consoleMemberFactors)
      .set({ confirmedAt: sql`now()`, lastUsedAt: sql`now()`, lastTimeStep: check.timeStep, name: data.name })
      .where(eq(consoleMemberFactors.id, pending.id))
      .returning();
    return factorAdded(tx, ctx, memberId, factor!, first);
  });
}

/**
 * What follows a confirmed factor: the member's first comes with ten recovery codes (returned once),
 * the session that added it counts as having proven a second factor now, and the audit row.
 */
async function factorAdded(tx: Tx, ctx: DomainContext & { sessionId?: string }, memberId: string, factor: typeof consoleMemberFactors.$inferSelect, first: boolean) {
  const recoveryCodes = first ? await replaceRecoveryCodes(tx, memberId) : null;
  if (ctx.sessionId) await tx.update(consoleSessions).set({ secondFactorAt: sql`now()` }).where(and(eq(consoleSessions.id, ctx.sessionId), eq(consoleSessions.memberId, memberId)));
  await recordAudit(tx, ctx, {
    action: "console_member.second_factor.add",
    targetType: "console_member",
    targetId: memberId,
    targetLabel: ctx.actor.label,
    after: { kind: factor.kind, name: factor.name, recoveryCodes: recoveryCodes ? recoveryCodes.length : undefined },
  });
  return { factor: view(factor), recoveryCodes };
}

/** Starts adding a passkey: the options the browser's WebAuthn call takes (a challenge for five minutes). */
export async function startPasskeyRegistration(ctx: DomainContext) {
  const memberId = selfMember(ctx.actor);
  return inTransaction((tx) => passkeyRegistrationOptions(tx, memberId));
}

const finishPasskeyInput = z.object({
  response: z.record(z.string(), z.unknown(), { error: "This is not a passkey registration." }),
  name: z.string({ error: "A name is text." }).trim().min(1, "Name the passkey (for example, your laptop).").max(60, "A name has at most 60 characters.").default("Passkey"),
});

/** Stores the passkey the browser created, once verified against the registration challenge. */
export async function finishPasskeyRegistration(ctx: DomainContext & { sessionId?: string }, input: unknown): Promise<{ factor: FactorView; recoveryCodes: string[] | null }> {
  const memberId = selfMember(ctx.actor);
  const data = parseInput(finishPasskeyInput, input);
  return inTransaction(async (tx) => {
    const credential = await verifyPasskeyRegistration(tx, memberId, data.response);
    const first = !(await hasSecondFactor(memberId, tx));
    const [factor] = await tx
      .insert(consoleMemberFactors)
      .values({ memberId, kind: "passkey", name: data.name, ...credential, confirmedAt: sql`now()`, lastUsedAt: sql`now()` })
      .onConflictDoNothing({ target: consoleMemberFactors.credentialId })
      .returning();
    if (!factor) throw ValidationError.field("response", "This passkey is already registered.");
    return factorAdded(tx, ctx, memberId, factor, first);
  });
}

const view = (f: typeof consoleMemberFactors.$inferSelect): FactorView => ({ id: f.id, kind: f.kind, name: f.name, createdAt: f.createdAt, lastUsedAt: f.lastUsedAt });

async function replaceRecoveryCodes(tx: Tx, memberId: string): Promise<string[]> {
  const codes = newRecoveryCodes();
  await tx.delete(consoleRecoveryCodes).where(eq(consoleRecoveryCodes.memberId, memberId));
  await tx.insert(consoleRecoveryCodes).values(codes.map((code) => ({ memberId, codeHash: hashRecoveryCode(code) })));
  return codes;
}

/** Ten new recovery codes for the member (the old ones stop working), shown once. Needs a second factor. */
export async function regenerateRecoveryCodes(ctx: DomainContext): Promise<{ recoveryCodes: string[] }> {
  const memberId = selfMember(ctx.actor);
  return inTransaction(async (tx) => {
    if (!(await hasSecondFactor(memberId, tx))) throw new ConflictError("Add an authenticator app first: recovery codes stand in for it.");
    const recoveryCodes = await replaceRecoveryCodes(tx, memberId);
    await recordAudit(tx, ctx, { action: "console_member.recovery_codes.regenerate", targetType: "console_member", targetId: memberId, targetLabel: ctx.actor.label, after: { recoveryCodes: recoveryCodes.length } });
    return { recoveryCodes };
  });
}

/**
 * Removes one of the member's own factors. When the console requires a second factor, the last one
 * cannot go (add another first). Removing the last drops the recovery codes too.
 */
export async function removeSecondFactor(ctx: DomainContext, factorId: string): Promise<{ removed: boolean }> {
  const memberId = selfMember(ctx.actor);
  const id = parseInput(uuidSchema, factorId);
  return inTransaction(async (tx) => {
    const [factor] = await tx.select().from(consoleMemberFactors).where(and(eq(consoleMemberFactors.id, id), eq(consoleMemberFactors.memberId, memberId))).for("update");
    if (!factor || !factor.confirmedAt) throw new NotFoundError("Second factor not found.");
    const { factors } = await secondFactorsOf(memberId, tx);
    const last = factors.length === 1;
    if (last && (await consoleSecurity(tx)).requireSecondFactor) {
      throw new ConflictError("The console requires a second factor: add another before removing this one.");
    }
    await tx.delete(consoleMemberFactors).where(eq(consoleMemberFactors.id, id));
    if (last) await tx.delete(consoleRecoveryCodes).where(eq(consoleRecoveryCodes.memberId, memberId));
    await recordAudit(tx, ctx, { action: "console_member.second_factor.remove", targetType: "console_member", targetId: memberId, targetLabel: ctx.actor.label, before: { kind: factor.kind, name: factor.name } });
    return { removed: true };
  });
}

/**
 * An owner resets another member's second factors (a lost phone): the factors and recovery codes
 * go and the member's sessions end; they sign in with their password and, when the console
 * requires it, enrol again. Only an owner signed in to the console may, and not on themselves.
 */
export async function resetMemberSecondFactors(ctx: DomainContext, memberId: string): Promise<{ removed: number; sessionsEnded: number }> {
  const id = parseInput(uuidSchema, memberId);
  const actor = ctx.actor;
  if (!(actor.type === "system" || (actor.type === "console_member" && actor.role === "owner"))) {
    throw new ForbiddenError("Only an owner signed in to the console can reset a member's second factors.");
  }
  if (actor.type === "console_member" && actor.id === id) throw new ValidationError("Manage your own second factors on your security page.");
  return inTransaction(async (tx) => {
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, id)).for("update");
    if (!member) throw new NotFoundError("Console member not found.");
    const removed = await tx.delete(consoleMemberFactors).where(eq(consoleMemberFactors.memberId, id)).returning({ kind: consoleMemberFactors.kind, confirmedAt: consoleMemberFactors.confirmedAt });
    await tx.delete(consoleRecoveryCodes).where(eq(consoleRecoveryCodes.memberId, id));
    const ended = await tx
      .update(consoleSessions)
      .set({ revokedAt: sql`now()` })
      .where(and(eq(consoleSessions.memberId, id), isNull(consoleSessions.revokedAt)))
      .returning({ id: consoleSessions.id });
    const count = removed.filter((f) => f.confirmedAt).length;
    await recordAudit(tx, ctx, {
      action: "console_member.second_factor.reset",
      targetType: "console_member",
      targetId: id,
      targetLabel: member.email,
      before: { factors: count },
      after: { factors: 0, sessionsEnded: ended.length },
    });
    return { removed: count, sessionsEnded: ended.length };
  });
}

// ---- Checking a code ----------------------------------------------------------

export type SecondFactorCheck = { ok: true; method: "totp" | "recovery_code" | "passkey" } | { ok: false; reason: "malformed" | "wrong" | "replayed" };

/**
 * Checks what the member gave: a passkey's answer to their live challenge, a current authenticator
 * code, or an unused recovery code (each once). Call in the transaction that opens the session or
 * records the step-up.
 */
export async function checkSecondFactor(tx: Tx, memberId: string, input: string): Promise<SecondFactorCheck> {
  if (isPasskeyAnswer(input)) {
    const passkey = await checkPasskey(tx, memberId, input);
    return passkey.ok ? { ok: true, method: "passkey" } : passkey;
  }
  const code = input.trim();
  if (looksLikeRecoveryCode(code)) {
    const [used] = await tx
      .update(consoleRecoveryCodes)
      .set({ usedAt: sql`now()` })
      .where(and(eq(consoleRecoveryCodes.memberId, memberId), eq(consoleRecoveryCodes.codeHash, hashRecoveryCode(code)), isNull(consoleRecoveryCodes.usedAt)))
      .returning({ id: consoleRecoveryCodes.id });
    return used ? { ok: true, method: "recovery_code" } : { ok: false, reason: "wrong" };
  }
  const apps = await tx.select().from(consoleMemberFactors).where(and(confirmed(memberId), eq(consoleMemberFactors.kind, "totp")));
  let result: SecondFactorCheck = { ok: false, reason: /^\d{6}$/.test(code.replace(/\s+/g, "")) ? "wrong" : "malformed" };
  for (const app of apps) {
    const check = await checkTotp(openSecret(SEAL_PURPOSE, app.secretSealed!, "The authenticator secret"), code, app.lastTimeStep);
    if (!check.ok) {
      if (check.reason === "replayed") result = { ok: false, reason: "replayed" };
      continue;
    }
    // Advance the last step only forward: a racing request with the same code finds no row.
    const [advanced] = await tx
      .update(consoleMemberFactors)
      .set({ lastTimeStep: check.timeStep, lastUsedAt: sql`now()` })
      .where(and(eq(consoleMemberFactors.id, app.id), or(isNull(consoleMemberFactors.lastTimeStep), lt(consoleMemberFactors.lastTimeStep, check.timeStep))))
      .returning({ id: consoleMemberFactors.id });
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

/**
 * Step-up: the signed-in member proves a second factor again, for the sensitive actions that ask
 * for one when the last proof is older than STEP_UP_MINUTES. A wrong code is audited.
 */
export async function confirmSecondFactor(ctx: DomainContext & { sessionId: string }, code: unknown): Promise<{ confirmed: true }> {
  const memberId = selfMember(ctx.actor);
  const typed = parseInput(z.string({ error: "Enter a code." }).trim().min(1, "Enter a code.").max(MAX_ANSWER_LENGTH, "Enter a code."), code);
  const outcome = await inTransaction(async (tx) => {
    const check = await checkSecondFactor(tx, memberId, typed);
    if (check.ok) await tx.update(consoleSessions).set({ secondFactorAt: sql`now()` }).where(and(eq(consoleSessions.id, ctx.sessionId), eq(consoleSessions.memberId, memberId)));
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
  if (!outcome.ok) throw ValidationError.field("code", secondFactorRefusal(outcome.reason));
  return { confirmed: true };
}

/**
 * Whether a sensitive action may go ahead in this session: yes for members without a second factor
 * (nothing to ask; the console's requirement sends them to enrol first), and for members who proved
 * one in the last STEP_UP_MINUTES.
 */
export async function stepUpSatisfied(memberId: string, sessionId: string, executor: Executor = getDb()): Promise<boolean> {
  if (!(await hasSecondFactor(memberId, executor))) return true;
  const [row] = await executor
    .select({ fresh: sql<boolean>`${consoleSessions.secondFactorAt} > now() - make_interval(mins => ${STEP_UP_MINUTES})` })
    .from(consoleSessions)
    .where(eq(consoleSessions.id, sessionId));
  return row?.fresh === true;
}

// ---- The console's requirement -----------------------------------------------

export async function consoleSecurity(executor: Executor = getDb()): Promise<{ requireSecondFactor: boolean }> {
  const [row] = await executor.select({ requireSecondFactor: consoleSettings.requireSecondFactor }).from(consoleSettings).limit(1);
  return { requireSecondFactor: row?.requireSecondFactor ?? false };
}

/** Owners turn "require a second factor for every console member" on or off (audited). */
export async function setRequireSecondFactor(ctx: DomainContext, input: unknown): Promise<{ requireSecondFactor: boolean }> {
  const { requireSecondFactor } = parseInput(z.object({ requireSecondFactor: z.boolean({ error: "Say on or off." }) }), input);
  const actor = ctx.actor;
  if (!(actor.type === "system" || (actor.type === "console_member" && actor.role === "owner"))) {
    throw new ForbiddenError("Only an owner can change whether the console requires a second factor.");
  }
  return inTransaction(async (tx) => {
    const before = await consoleSecurity(tx);
    if (requireSecondFactor && actor.type === "console_member" && !(await hasSecondFactor(actor.id!, tx))) {
      throw new ConflictError("Add a second factor to your own account first, so you are not sent to enrol by your own rule.");
    }
    await tx
      .insert(consoleSettings)
      .values({ id: true, requireSecondFactor })
      .onConflictDoUpdate({ target: consoleSettings.id, set: { requireSecondFactor, updatedAt: sql`now()` } });
    await recordAudit(tx, ctx, { action: "console.security.update", targetType: "console", targetId: null, targetLabel: "Console security", before, after: { requireSecondFactor } });
    return { requireSecondFactor };
  });
}

/** The passkey options for a step-up of the signed-in member (null when they have no passkey). */
export async function stepUpPasskeyOptions(ctx: DomainContext) {
  const memberId = selfMember(ctx.actor);
  return passkeyAuthenticationOptions(getDb(), memberId);
}
