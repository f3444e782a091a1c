import "server-only";
import { eq, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { consoleMembers, consoleSessions } from "@/db/schema";
import { recordAudit } from "@/lib/audit/record";
import { checkSecondFactor, hasSecondFactor, memberOwner, secondFactorRefusal, type SecondFactorCheck } from "@/lib/second-factor";
import { passkeyAuthenticationOptions } from "@/lib/second-factor/passkeys";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import { passwordReservedForOwners } from "@/lib/console-sso/password-rule";
import { clearConsoleFailures, countConsoleFailure } from "./console-lockout";
import { emailSchema } from "@/lib/validation";
import { verifyPassword } from "./password";
import type { DomainContext } from "./actor";

export const CONSOLE_SESSION_HOURS = 12;
export const CONSOLE_IDLE_MINUTES = 120;

type Refusal = "invalid" | "locked" | "suspended" | "invited" | "sso_required" | "second_factor_required" | "second_factor_wrong";
export type ConsoleSignInResult =
  | { ok: true; sessionId: string; member: { id: string; email: string; name: string } }
  | { ok: false; reason: Refusal; detail?: string; passkeyOptions?: PublicKeyCredentialRequestOptionsJSON };

/**
 * Checks a console member's credentials and opens a server-side session. Unknown emails cost a
 * full argon2 verification too, so timing does not tell which emails exist. Repeated failures
 * lock the account for a while. Every attempt is audited. A member with a second factor signs in
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
  // What is no address (a NUL, which no text column holds, included) is no member's: an unknown email.
  const [member] = emailSchema.safeParse(email).success
    ? await db
        .select()
        .from(consoleMembers)
        .where(sql`lower(${consoleMembers.email}) = lower(${email})`)
        .limit(1)
    : [];
  const passwordOk = await verifyPassword(member?.passwordHash, input.password);
  const ctx: DomainContext = {
    actor: member
      ? ({ type: "console_member", id: member.id, label: member.email, role: member.role, environmentIds: [] } as const)
      : ({ type: "system", id: null, label: "anonymous" } as const),
    ip: input.ip,
  };
  const fail = async (reason: Exclude<Refusal, "second_factor_required">, check?: SecondFactorCheck & { ok: false }) => {
    await db.transaction(async (tx) => {
      if (member && (reason === "invalid" || reason === "second_factor_wrong")) await countConsoleFailure(tx, member.id);
      await recordAudit(tx, ctx, {
        action: "console.sign_in",
        targetType: "console_member",
        targetId: member?.id ?? null,
        targetLabel: member?.email ?? email.replace(/\0/g, "\uFFFD").slice(0, 320),
        outcome: "failure",
        reason: reason === "invalid" ? (member ? "wrong password" : "unknown email") : reason === "invited" ? "invitation not accepted yet" : reason === "sso_required" ? "password sign-in is kept for owners: members sign in through console SSO" : reason === "second_factor_wrong" ? `second factor ${check?.reason ?? "wrong"}` : reason,
      });
    });
    return { ok: false as const, reason, ...(check ? { detail: secondFactorRefusal(check.reason) } : {}) };
  };

  if (!member) return fail("invalid");
  // An invited member has no password until they accept (the argon2 work above was done anyway).
  if (member.status === "invited") return fail("invited");
  if (member.lockedUntil && member.lockedUntil > new Date()) return fail("locked");
  if (!passwordOk) return fail("invalid");
  if (member.status !== "active") return fail("suspended");
  // Console SSO for members: a password is the owners' break-glass way in only (told after a right password).
  if (member.role !== "owner" && (await passwordReservedForOwners(db))) return fail("sso_required");
  const owner = memberOwner(member.id);
  const needsCode = await hasSecondFactor(owner);
  if (input.passkeyOptions) {
    const passkeyOptions = needsCode ? await passkeyAuthenticationOptions(db, owner) : null;
    return { ok: false, reason: "second_factor_required", ...(passkeyOptions ? { passkeyOptions } : {}) };
  }
  if (needsCode && !input.code?.trim()) return { ok: false, reason: "second_factor_required" };

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
  return signedIn.ok && "sessionId" in signedIn ? signedIn : fail("second_factor_wrong", signedIn as SecondFactorCheck & { ok: false });
}

/** Opens a console session (the row next-auth's cookie names): by password, or through console SSO (lib/console-members/sso.ts). */
export async function openConsoleSession(
  tx: Executor,
  input: { memberId: string; method: "password" | "sso"; secondFactor: boolean; authnContext?: string | null; ip?: string; userAgent?: string },
): Promise<string> {
  const [session] = await tx
    .insert(consoleSessions)
    .values({
      memberId: input.memberId,
      expiresAt: sql`now() + make_interval(hours => ${CONSOLE_SESSION_HOURS})`,
      ip: input.ip ?? null,
      userAgent: input.userAgent?.slice(0, 512) ?? null,
      secondFactorAt: input.secondFactor ? sql`now()` : null,
      method: input.method,
      authnContext: input.authnContext?.slice(0, 500) ?? null,
    })
    .returning({ id: consoleSessions.id });
  return session!.id;
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
