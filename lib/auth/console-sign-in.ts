import "server-only";
import { and, eq, gt, isNull, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { consoleMembers, consoleSessions, type ConsoleMember } from "@/db/schema";
import { recordAudit } from "@/lib/audit/record";
import { checkSecondFactor, hasSecondFactor, memberOwner, secondFactorRefusal, type SecondFactorCheck } from "@/lib/second-factor";
import { passkeyAuthenticationOptions } from "@/lib/second-factor/passkeys";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { passwordReservedForOwners, roleMayUsePassword } from "@/lib/console-sso/password-rule";
import { clearConsoleFailures, LOCK_MINUTES, MAX_FAILURES, reserveConsoleAttempt } from "./console-lockout";
import { hitRateLimit, limitedAddress, refundRateLimit, resetRateLimit } from "@/lib/rate-limit";
import { emailSchema } from "@/lib/validation";
import { verifyPassword } from "./password";
import type { DomainContext } from "./actor";

export const CONSOLE_SESSION_HOURS = 12;
export const CONSOLE_IDLE_MINUTES = 120;

/** A console session that may still be used: not ended, not expired, not idle (the session read, the member's list of theirs, a renewal). */
export const liveConsoleSession = () =>
  and(isNull(consoleSessions.revokedAt), gt(consoleSessions.expiresAt, sql`now()`), gt(consoleSessions.lastSeenAt, sql`now() - make_interval(mins => ${CONSOLE_IDLE_MINUTES})`));

type Refusal = "invalid" | "locked" | "throttled" | "suspended" | "invited" | "sso_required" | "second_factor_required" | "second_factor_wrong";

// Beside the member's own lockout (console-lockout.ts), as for end users' passwords
// (lib/end-user/password-accounts.ts), counted per client address so every instance shares them:
// - per address, across members: 30 attempts a minute, and 20 failures in 15 minutes (counted up
//   front; a right password gives its attempt back), so one address cannot spray a password over
//   every member, nor lock member after member;
// - a member's own address (one they opened a console session from in the last 30 days) is not held
//   back by the member's lockout, only by that pair's own count (MAX_FAILURES per LOCK_MINUTES), and
//   failures there do not count toward the lockout: someone elsewhere who knows an owner's email can
//   slow them on new addresses but cannot lock them out of the console from their own.
// A sign-in with no address (none of the doors: the server always knows the socket's) gets only the lockout.
const PER_ADDRESS_PER_MINUTE = 30;
const PER_ADDRESS_FAILURES = 20;
const PER_ADDRESS_FAILURE_WINDOW_SECONDS = 15 * 60;
const KNOWN_ADDRESS_DAYS = 30;

/**
 * Whether the member opened a console session from this address in the last 30 days, since they last
 * changed or reset their password (an intruder's address is not theirs once they have recovered).
 */
async function isKnownAddress(executor: Executor, member: Pick<ConsoleMember, "id">, address: string): Promise<boolean> {
  const [row] = await executor
    .select({ id: consoleSessions.id })
    .from(consoleSessions)
    .where(
      and(
        eq(consoleSessions.memberId, member.id),
        eq(consoleSessions.ip, address),
        sql`${consoleSessions.createdAt} > now() - make_interval(days => ${KNOWN_ADDRESS_DAYS})`,
        // Read in SQL: a JavaScript Date would drop the microseconds.
        sql`${consoleSessions.createdAt} >= coalesce((select m.password_changed_at from console_members m where m.id = ${member.id}), '-infinity')`,
      ),
    )
    .limit(1);
  return !!row;
}
export type ConsoleSignInResult =
  | { ok: true; sessionId: string; member: { id: string; email: string; name: string } }
  | { ok: false; reason: Refusal; detail?: string; passkeyOptions?: PublicKeyCredentialRequestOptionsJSON };

/**
 * Checks a console member's credentials and opens a server-side session. Unknown emails cost a
 * full argon2 verification too, so timing does not tell which emails exist. Repeated failures
 * lock the account for a while. Every attempt judged is audited (one refused unjudged by the address limits is not). A member with a second factor signs in
 * with password and code together: the password alone answers "second_factor_required" (the form
 * then asks for the code and sends both again); a wrong code counts toward the lockout like a wrong
 * password.
 */
export async function signInConsoleMember(input: {
  email: string;
  password: string;
  /** A code from the member's authenticator app, one of their recovery codes, or a passkey's answer (its JSON). */
  code?: string;
  /** Instead of signing in: after the same checks, the options of a passkey challenge (passkeySignInOptions). */
  passkeyOptions?: boolean;
  ip?: string;
  userAgent?: string;
}): Promise<ConsoleSignInResult> {
  const db = getDb();
  const email = input.email.trim();
  const address = input.ip && input.ip !== "unknown" ? input.ip : null;
  // Limits count the address's network (an IPv6 /64); the member's own address is the address itself.
  const addressFailures = `console-ip-fail:${limitedAddress(address)}`;
  if (address) {
    // Counted before anything is judged, so guesses sent at once cannot slip past the limits.
    const [perMinute, failures] = await Promise.all([
      hitRateLimit(`console-ip:${limitedAddress(address)}`, PER_ADDRESS_PER_MINUTE, 60),
      hitRateLimit(addressFailures, PER_ADDRESS_FAILURES, PER_ADDRESS_FAILURE_WINDOW_SECONDS),
    ]);
    if (!perMinute.allowed || !failures.allowed) return { ok: false, reason: "throttled" };
  }
  // What is no address (a NUL, which no text column holds, included) is no member's: an unknown email.
  const [member] = emailSchema.safeParse(email).success
    ? await db
        .select()
        .from(consoleMembers)
        .where(sql`lower(${consoleMembers.email}) = lower(${email})`)
        .limit(1)
    : [];
  const knownAddress = member && address ? await isKnownAddress(db, member, address) : false;
  // Counted before the password is judged: from the member's own address this pair's count (MAX_FAILURES
  // per LOCK_MINUTES), elsewhere the member's lockout, one statement each, so guesses sent at once
  // cannot pass it. An invited member has no password to guess.
  const pairKey = `console-pair:${member?.id}:${address}`;
  const pair = knownAddress ? await hitRateLimit(pairKey, MAX_FAILURES, LOCK_MINUTES * 60) : null;
  const reserved = member && !knownAddress && member.status !== "invited" ? await reserveConsoleAttempt(db, member.id) : null;
  // The same argon2 work whatever the email and whether locked.
  const passwordOk = await verifyPassword(member?.passwordHash, input.password);
  /**
   * The attempt was no guess (a right password that passed every check): its counts are given back,
   * the address's and (from the member's own address) the pair's. Only here: given back any earlier
   * (a right password answered "locked"), the counters would tell a right guess from a wrong one.
   */
  const giveBack = () => Promise.all([address ? refundRateLimit(addressFailures) : undefined, pair ? refundRateLimit(pairKey) : undefined]);
  const ctx: DomainContext = {
    actor: member
      ? ({ type: "console_member", id: member.id, label: member.email, role: member.role, environmentIds: [] } as const)
      : ({ type: "system", id: null, label: "anonymous" } as const),
    ip: input.ip,
  };
  const fail = async (reason: Exclude<Refusal, "second_factor_required">, check?: SecondFactorCheck & { ok: false }) => {
    await db.transaction(async (tx) => {
      await recordAudit(tx, ctx, {
        action: "console.sign_in",
        targetType: "console_member",
        targetId: member?.id ?? null,
        targetLabel: member?.email ?? email.replace(/\0/g, "\uFFFD").slice(0, 320),
        outcome: "failure",
        reason: reason === "locked" && knownAddress ? "too many failures from the member's own address" : reason === "invalid" ? (member ? "wrong password" : "unknown email") : reason === "invited" ? "invitation not accepted yet" : reason === "sso_required" ? "password sign-in is kept for owners: members sign in through console SSO" : reason === "second_factor_wrong" ? `second factor ${check?.reason ?? "wrong"}` : reason,
      });
    });
    return { ok: false as const, reason, ...(check ? { detail: secondFactorRefusal(check.reason) } : {}) };
  };

  if (!member) return fail("invalid");
  // An invited member has no password until they accept (the argon2 work above was done anyway).
  if (member.status === "invited") return fail("invited");
  if (pair ? !pair.allowed : !reserved) return fail("locked");
  if (!passwordOk) return fail("invalid");
  if (member.status !== "active") return fail("suspended");
  // Console SSO for members: a password is the owners' break-glass way in only (told after a right password).
  if (!roleMayUsePassword(member.role, await passwordReservedForOwners(db))) return fail("sso_required");
  const owner = memberOwner(member.id);
  const needsCode = await hasSecondFactor(owner);
  // The password step of a member with a second factor: the address's and pair's counts are given
  // back; the member's attempt stays counted (a password alone is not a sign-in) until the code is right.
  if (input.passkeyOptions) {
    await giveBack();
    const passkeyOptions = needsCode ? await passkeyAuthenticationOptions(db, owner) : null;
    return { ok: false, reason: "second_factor_required", ...(passkeyOptions ? { passkeyOptions } : {}) };
  }
  if (needsCode && !input.code?.trim()) {
    await giveBack();
    return { ok: false, reason: "second_factor_required" };
  }

  const signedIn = await db.transaction(async (tx) => {
    const check = needsCode ? await checkSecondFactor(tx, owner, input.code!) : null;
    if (check && !check.ok) return check;
    await clearConsoleFailures(tx, member.id, { signedIn: true });
    const sessionId = await openConsoleSession(tx, { memberId: member.id, method: "password", secondFactor: !!check, ip: input.ip, userAgent: input.userAgent });
    await recordAudit(tx, ctx, {
      action: "console.sign_in",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      after: { secondFactor: check?.ok ? check.method : null },
    });
    return { ok: true as const, sessionId, member: { id: member.id, email: member.email, name: member.name } };
  });
  if (signedIn.ok && "sessionId" in signedIn) {
    await Promise.all([address ? refundRateLimit(addressFailures) : undefined, pair ? resetRateLimit(pairKey) : undefined]);
    return signedIn;
  }
  // A wrong code: counted as the wrong guess it is (the member's attempt, the address's and the pair's stay).
  return fail("second_factor_wrong", signedIn as SecondFactorCheck & { ok: false });
}

/** Opens a console session (the row next-auth's cookie names): by password, or through console SSO (lib/console-members/sso.ts). */
export async function openConsoleSession(
  tx: Executor,
  input: {
    memberId: string;
    method: "password" | "sso";
    secondFactor: boolean;
    authnContext?: string | null;
    ip?: string;
    userAgent?: string;
    /** The session this one replaces (renewConsoleSession): its end and its second factor's proof are kept. */
    renews?: Pick<typeof consoleSessions.$inferSelect, "id" | "secondFactorAt">;
  },
): Promise<string> {
  const [session] = await tx
    .insert(consoleSessions)
    .values({
      memberId: input.memberId,
      // A renewed session's end read in SQL: a JavaScript Date would drop its microseconds.
      expiresAt: input.renews
        ? sql`(select expires_at from console_sessions where id = ${input.renews.id})`
        : sql`now() + make_interval(hours => ${CONSOLE_SESSION_HOURS})`,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, 512) ?? null,
      secondFactorAt: input.renews ? input.renews.secondFactorAt : input.secondFactor ? sql`now()` : null,
      method: input.method,
      authnContext: input.authnContext?.slice(0, 500) ?? null,
    })
    .returning({ id: consoleSessions.id });
  return session!.id;
}

/**
 * This browser's console session again, after a password change: a new row with the old one's
 * method, proofs and end (a copy of the old cookie is then worth nothing; the caller ends the old
 * row with the member's others). Null when the old one is no longer live.
 */
export async function renewConsoleSession(tx: Executor, memberId: string, sessionId: string, ip: string | undefined): Promise<string | null> {
  const [old] = await tx
    .select()
    .from(consoleSessions)
    .where(
      and(
        eq(consoleSessions.id, sessionId),
        eq(consoleSessions.memberId, memberId),
        liveConsoleSession(),
      ),
    );
  if (!old) return null;
  return openConsoleSession(tx, { memberId, method: old.method, secondFactor: false, authnContext: old.authnContext, ip: ip ?? old.ip ?? undefined, userAgent: old.userAgent ?? undefined, renews: old });
}

/**
 * The passkey step of a sign-in: after the same checks as signInConsoleMember (a wrong password
 * counts and is audited, a locked account stays locked; no session is opened), the options for the
 * browser's WebAuthn call. Its answer then comes back as the sign-in's code.
 */
export async function passkeySignInOptions(input: { email: string; password: string; ip?: string; userAgent?: string }) {
  const step = await signInConsoleMember({ ...input, code: undefined, passkeyOptions: true });
  if (!step.ok && step.passkeyOptions) return { ok: true as const, options: step.passkeyOptions };
  return { ok: false as const, reason: step.ok ? ("invalid" as const) : step.reason === "second_factor_required" ? ("no_passkey" as const) : step.reason };
}

/** Ends a console session (sign-out); the cookie that carried it is useless afterwards. */
export async function endConsoleSession(sessionId: string): Promise<void> {
  if (!/^[0-9a-f-]{36}$/i.test(sessionId)) return;
  const db = getDb();
  await db.transaction(async (tx) => {
    const [session] = await tx
      .update(consoleSessions)
      .set({ revokedAt: sql`now()` })
      .where(sql`${consoleSessions.id} = ${sessionId} and ${consoleSessions.revokedAt} is null`)
      .returning({ memberId: consoleSessions.memberId });
    if (!session) return;
    const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, session.memberId));
    await recordAudit(
      tx,
      { actor: { type: "console_member", id: session.memberId, label: member?.email ?? "", role: member?.role ?? "reviewer", environmentIds: [] } },
      { action: "console.sign_out", targetType: "console_member", targetId: session.memberId, targetLabel: member?.email },
    );
  });
}
