import { beforeAll, describe, expect, it, vi } from "vitest";
import { eq, sql } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { generate } from "otplib";
import { getDb } from "@/db/client";
import { consoleMembers, consolePasswordResets } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { MAX_FAILURES } from "@/lib/auth/console-lockout";
import { readConsoleSession } from "@/lib/auth/session";
import { updateConsoleSso } from "@/lib/console-sso";
import { listOutbox } from "@/lib/mail";
import { createApiToken } from "@/lib/api-tokens";
import { consoleSecurity, confirmTotpEnrolment, setConsolePasswordReset, startTotpEnrolment } from "@/lib/second-factor";
import { hashToken } from "@/lib/auth/secret-token";
import { setupSso, type SsoFixture } from "@/lib/sso/testing/fixture";
import { countRows, systemCtx } from "@/test-support/fixtures";
import { whileHeld } from "@/test-support/while-held";
import { changeConsoleMemberRole, createConsoleMember, inviteConsoleMember, reactivateConsoleMember, suspendConsoleMember } from ".";
import {
  changeOwnConsolePassword,
  endOwnConsoleSessions,
  listOwnConsoleSessions,
  ownPasswordRefusal,
  peekConsolePasswordReset,
  requestConsolePasswordReset,
  resetConsolePassword,
  SELF_SERVICE_RESET_OFF,
  sendConsolePasswordReset,
} from "./own-account";

vi.mock("next/cache", () => ({ revalidatePath: () => undefined }));

// A console member's own account: changing their password (the current one proves it; wrong ones
// count toward the lockout), their open sessions and signing out of others, and "forgot password"
// (a one-hour, one-use link; every session ends; the second factor stays).

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "violet kettle drums at noon";

let f: SsoFixture;
beforeAll(async () => {
  f = await setupSso();
});

type Me = DomainContext & { sessionId: string; email: string; id: string; sessions: string[]; ips: string[] };

// Each member signs in from addresses of their own: console sign-in limits attempts per address.
let members = 0;

/** A member with a password, signed in `sessions` times (the context is the first session's). */
async function member(role: "owner" | "admin" | "reviewer" = "admin", sessions = 1): Promise<Me> {
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const m = await createConsoleMember(systemCtx, { email, name: "Morgan Reyes", role, password: PASSWORD, environmentIds: [] });
  const ids: string[] = [];
  const ips = Array.from({ length: sessions }, (_, i) => `10.${members >> 8}.${members & 255}.${i + 1}`);
  members++;
  for (let i = 0; i < sessions; i++) {
    const signedIn = await signInConsoleMember({ email, password: PASSWORD, ip: ips[i], userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0" });
    if (!signedIn.ok) throw new Error(`sign-in failed: ${signedIn.reason}`);
    ids.push(signedIn.sessionId);
  }
  return { actor: { type: "console_member", id: m.id, label: email, role, environmentIds: [] }, requestId: "test", sessionId: ids[0]!, email, id: m.id, sessions: ids, ips };
}

const alive = async (sessionId: string) => (await readConsoleSession(await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }))) !== null;

async function rowOf(id: string) {
  const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, id));
  return row!;
}

async function auditOf(targetId: string, action: string) {
  return getDb().execute<{ outcome: string; reason: string | null; actor_id: string | null; ip: string | null; after: Record<string, unknown> | null }>(
    sql`select outcome, reason, actor_id, ip, after from audit_events where target_id = ${targetId} and action = ${action} order by id`,
  );
}

/** The newest reset link mailed to `email`, or null. */
async function resetLink(email: string): Promise<string | null> {
  const mails = (await listOutbox(systemCtx.actor, 500)).filter((m) => m.to === email && m.subject.startsWith("Reset"));
  const match = mails[0] && /\/sign-in\/reset\/([A-Za-z0-9_-]+)/.exec(mails[0].body);
  return match?.[1] ?? null;
}

async function askReset(email: string, ip = "203.0.113.7") {
  const mailLink = await requestConsolePasswordReset(email, { ip });
  await mailLink();
}

describe("changing one's own password", () => {
  it("needs the current password; the new one then signs in, the old one no longer; the other sessions end, this one stays; audited", async () => {
    const me = await member("admin", 3);
    await askReset(me.email);
    const pending = await resetLink(me.email);
    const changed = await changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(changed).toMatchObject({ sessionsEnded: 2, member: { id: me.id, email: me.email } });
    // This browser goes on in a new session (a copy of the old cookie is signed out too), ending when the old one would have.
    expect(changed.sessionId).not.toBe(me.sessionId);
    expect(await alive(changed.sessionId)).toBe(true);
    expect(await alive(me.sessionId)).toBe(false);
    const ends = await getDb().execute<{ expires_at: string; method: string; second_factor_at: string | null }>(
      sql`select expires_at::text, method, second_factor_at::text from console_sessions where id in (${me.sessionId}, ${changed.sessionId})`,
    );
    // The same end, method and proof (a step-up made in the old one still counts).
    expect(ends).toHaveLength(2);
    expect(ends[0]).toEqual(ends[1]);
    expect(await alive(me.sessions[1]!)).toBe(false);
    expect(await alive(me.sessions[2]!)).toBe(false);
    expect(await signInConsoleMember({ email: me.email, password: PASSWORD })).toMatchObject({ ok: false, reason: "invalid" });
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: true });
    // A reset link asked for before is void once the password is changed.
    expect(await peekConsolePasswordReset(pending!)).toBeNull();
    const [row] = await auditOf(me.id, "console_member.password_change");
    expect(row).toMatchObject({ outcome: "success", actor_id: me.id, after: { sessionsEnded: 2 } });
    // The member is told, without a link.
    const told = (await listOutbox(systemCtx.actor, 500)).filter((m) => m.to === me.email && m.subject === "Your identity console password was changed");
    expect(told).toHaveLength(1);
    expect(told[0]!.body).toContain("changed on the Security page");
  });

  it("refuses a wrong current password with the reason, counts it toward the lockout and audits it; the password stays", async () => {
    const me = await member();
    const before = await rowOf(me.id);
    await expect(changeOwnConsolePassword(me, { current: "not my password at all", password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toMatchObject({
      fieldErrors: { current: ["That is not your current password."] },
    });
    const after = await rowOf(me.id);
    expect(after.passwordHash).toBe(before.passwordHash);
    expect(after.failedSignIns).toBe(before.failedSignIns + 1);
    expect(await auditOf(me.id, "console_member.password_change")).toMatchObject([{ outcome: "failure", reason: "wrong current password" }]);
    expect(await alive(me.sessionId)).toBe(true);
  });

  it("spends this session's guesses: then even the right current password is refused unjudged, and the member is locked for sign-in", async () => {
    const me = await member();
    for (let i = 0; i < MAX_FAILURES; i++) {
      await expect(changeOwnConsolePassword(me, { current: `guess number ${i} of many`, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("That is not your current password.");
    }
    await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toMatchObject({
      fieldErrors: { current: [expect.stringMatching(/^Too many wrong passwords: try again in \d+ minutes\.$/)] },
    });
    // Right as current and new: the same answer as a wrong guess (nothing tells them apart once the guesses are spent).
    const right = await changeOwnConsolePassword(me, { current: PASSWORD, password: PASSWORD, confirm: PASSWORD }).catch((e: Error) => e.message);
    const wrong = await changeOwnConsolePassword(me, { current: "not it at all, no", password: "not it at all, no", confirm: "not it at all, no" }).catch((e: Error) => e.message);
    expect(right).toMatch(/^Too many wrong passwords/);
    expect(wrong).toBe(right);
    expect(await signInConsoleMember({ email: me.email, password: PASSWORD, ip: "203.0.113.200" })).toMatchObject({ ok: false, reason: "locked" });
    expect((await auditOf(me.id, "console_member.password_change")).at(-1)).toMatchObject({ outcome: "failure", reason: "too many wrong passwords in this session" });
  });

  it("does not let someone elsewhere who knows the email stop the signed-in member from changing it: their lockout does not hold the change back, and the change ends it", async () => {
    const me = await member();
    for (let i = 0; i < MAX_FAILURES; i++) await signInConsoleMember({ email: me.email, password: "a guess", ip: `203.0.113.${210 + i}` });
    expect((await rowOf(me.id)).lockedUntil).not.toBeNull();
    const changed = await changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(await alive(changed.sessionId)).toBe(true);
    expect(await rowOf(me.id)).toMatchObject({ failedSignIns: 0, lockedUntil: null });
  });

  it("refuses a weak, mismatched or unchanged new password as a field error, counting and writing nothing", async () => {
    const me = await member();
    const before = await rowOf(me.id);
    const audits = await countRows("audit_events");
    await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: "short", confirm: "short" })).rejects.toMatchObject({ fieldErrors: { password: [expect.stringContaining("12 characters")] } });
    await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: "violet kettle drums at dawn" })).rejects.toMatchObject({
      fieldErrors: { confirm: ["The passwords do not match."] },
    });
    await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: PASSWORD, confirm: PASSWORD })).rejects.toMatchObject({
      fieldErrors: { password: ["Choose a password other than your current one."] },
    });
    await expect(changeOwnConsolePassword(me, { current: "", password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toMatchObject({ fieldErrors: { current: ["Enter your current password."] } });
    await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: 42, confirm: 42 })).rejects.toMatchObject({ fieldErrors: { password: ["Enter a password."] } });
    const after = await rowOf(me.id);
    expect(after).toMatchObject({ passwordHash: before.passwordHash, failedSignIns: before.failedSignIns });
    expect(await countRows("audit_events")).toBe(audits);
  });

  it("is not offered where there is no password to use: a member who signs in through SSO, and non-owners once SSO keeps passwords for owners", async () => {
    const me = await member("admin");
    const owner = await member("owner");
    expect(await ownPasswordRefusal(me.actor)).toBeNull();
    await updateConsoleSso(systemCtx, { enabled: true, identityProviderId: f.idp.id, passwordSignIn: "owners", mappings: [{ idpValue: "Admins", role: "admin", environmentIds: [] }] });
    try {
      const refusal = "Console passwords are kept for owners: you sign in through single sign-on.";
      expect(await ownPasswordRefusal(me.actor)).toBe(refusal);
      await expect(changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow(refusal);
      expect(await ownPasswordRefusal(owner.actor)).toBeNull();
      // No link is mailed to such a member either (audited with the reason).
      await askReset(me.email);
      expect(await resetLink(me.email)).toBeNull();
      expect(await auditOf(me.id, "console_member.password_reset_requested")).toMatchObject([{ outcome: "failure", reason: refusal }]);
    } finally {
      await updateConsoleSso(systemCtx, { enabled: false, passwordSignIn: "everyone" });
    }
    const ssoOnly = await member("reviewer");
    await getDb().execute(sql`update console_members set password_hash = null, sso_identity_provider_id = ${f.idp.id}, sso_subject = ${ssoOnly.email} where id = ${ssoOnly.id}`);
    expect(await ownPasswordRefusal(ssoOnly.actor)).toBe("You sign in through single sign-on: there is no console password to change.");
  });
});

describe("one's own sessions", () => {
  it("lists the member's open sessions only, this one first, with where and how (not an expired, idle or ended one)", async () => {
    const me = await member("admin", 5);
    const other = await member("admin", 1);
    await getDb().execute(sql`update console_sessions set expires_at = now() - interval '1 second' where id = ${me.sessions[2]!}`);
    await getDb().execute(sql`update console_sessions set last_seen_at = now() - interval '3 hours' where id = ${me.sessions[3]!}`);
    await getDb().execute(sql`update console_sessions set revoked_at = now() where id = ${me.sessions[4]!}`);
    await expect(endOwnConsoleSessions(me, me.sessions[4])).rejects.toThrow("No such session: it has ended already, or is not yours.");
    const list = await listOwnConsoleSessions(me);
    expect(list.map((s) => s.id)).toEqual([me.sessionId, me.sessions[1]]);
    expect(list[0]).toMatchObject({ current: true, method: "password", ip: me.ips[0], userAgent: expect.stringContaining("Chrome") });
    expect(list[1]).toMatchObject({ current: false, ip: me.ips[1] });
    expect(list.map((s) => s.id)).not.toContain(other.sessionId);
  });

  it("signs out of one other session, or of all others; never this one, nor another member's (refused with the reason, nothing ends)", async () => {
    const me = await member("admin", 4);
    const other = await member("admin", 1);
    expect(await endOwnConsoleSessions(me, me.sessions[1])).toEqual({ sessionsEnded: 1 });
    expect(await alive(me.sessions[1]!)).toBe(false);
    expect(await alive(me.sessions[2]!)).toBe(true);
    await expect(endOwnConsoleSessions(me, other.sessionId)).rejects.toThrow("No such session: it has ended already, or is not yours.");
    expect(await alive(other.sessionId)).toBe(true);
    await expect(endOwnConsoleSessions(me, me.sessionId)).rejects.toThrow("This is the session you are using: sign out instead.");
    // In capitals it is still this session (Postgres reads a uuid whatever its case).
    await expect(endOwnConsoleSessions(me, me.sessionId.toUpperCase())).rejects.toThrow("This is the session you are using: sign out instead.");
    expect(await alive(me.sessionId)).toBe(true);
    await expect(endOwnConsoleSessions(me, "everything")).rejects.toThrow("No such session.");
    expect(await endOwnConsoleSessions(me, "others")).toEqual({ sessionsEnded: 2 });
    expect(await alive(me.sessionId)).toBe(true);
    expect((await listOwnConsoleSessions(me)).map((s) => s.id)).toEqual([me.sessionId]);
    expect(await auditOf(me.id, "console_member.sessions_end")).toMatchObject([{ after: { sessionsEnded: 1 } }, { after: { sessionsEnded: 2, which: "every other session" } }]);
  });
});

describe("forgot password", () => {
  it("mails an active member a one-use link; it sets the password, clears the lockout and ends every session; audited as the member", async () => {
    const me = await member("admin", 2);
    const { record: reviewerToken } = await createApiToken(me, { name: "my reviews", scope: "reviewer" });
    await getDb().update(consoleMembers).set({ failedSignIns: MAX_FAILURES, lockedUntil: sql`now() + interval '10 minutes'` }).where(eq(consoleMembers.id, me.id));
    await askReset(me.email.toUpperCase());
    const token = await resetLink(me.email);
    expect(token).not.toBeNull();
    expect(await peekConsolePasswordReset(token!)).toEqual({ email: me.email });
    expect(await resetConsolePassword({ token, password: NEW_PASSWORD, confirm: NEW_PASSWORD }, { ip: "203.0.113.8" })).toEqual({ email: me.email });
    expect(await alive(me.sessions[0]!)).toBe(false);
    expect(await alive(me.sessions[1]!)).toBe(false);
    expect(await rowOf(me.id)).toMatchObject({ failedSignIns: 0, lockedUntil: null });
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: true });
    expect(await auditOf(me.id, "console_member.password_reset_requested")).toMatchObject([{ outcome: "success", actor_id: me.id, ip: "203.0.113.7" }]);
    expect(await auditOf(me.id, "console_member.password_reset")).toMatchObject([
      { outcome: "success", actor_id: me.id, ip: "203.0.113.8", after: { sessionsEnded: 2, reviewerCredentialsRevoked: 1 } },
    ]);
    // Account recovery: a reviewer token made in a session (perhaps a stolen one) goes with the sessions.
    const [revoked] = await getDb().execute<{ revoked_at: Date | null }>(sql`select revoked_at from api_tokens where id = ${reviewerToken.id}`);
    expect(revoked!.revoked_at).not.toBeNull();
    expect((await listOutbox(systemCtx.actor, 500)).filter((m) => m.to === me.email && m.subject === "Your identity console password was changed")[0]?.body).toContain("reset with a mailed link");
    // Used once: the link is spent.
    expect(await peekConsolePasswordReset(token!)).toBeNull();
    await expect(resetConsolePassword({ token, password: "another long pass phrase", confirm: "another long pass phrase" })).rejects.toThrow("This link was already used or has expired");
  });

  it("keeps the second factor: after a reset the member still signs in with it", async () => {
    const me = await member("owner");
    const { factorId, secret } = await startTotpEnrolment(me);
    await confirmTotpEnrolment(me, { factorId, code: await generate({ secret }), name: "Phone" });
    await askReset(me.email);
    await resetConsolePassword({ token: await resetLink(me.email), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: false, reason: "second_factor_required" });
  });

  it("does not give a member with a second factor a fresh budget of code guesses: their lockout outlives a reset", async () => {
    const me = await member("owner");
    const { factorId, secret } = await startTotpEnrolment(me);
    await confirmTotpEnrolment(me, { factorId, code: await generate({ secret }), name: "Phone" });
    await getDb().update(consoleMembers).set({ failedSignIns: MAX_FAILURES, lockedUntil: sql`now() + interval '10 minutes'` }).where(eq(consoleMembers.id, me.id));
    await askReset(me.email);
    await resetConsolePassword({ token: await resetLink(me.email), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(await rowOf(me.id)).toMatchObject({ failedSignIns: MAX_FAILURES, lockedUntil: expect.any(Date) });
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: false, reason: "locked" });
  });

  it("voids a member's links when they are suspended (a reactivation does not bring one back) or their role changes", async () => {
    const me = await member("admin");
    await askReset(me.email);
    const beforeSuspension = (await resetLink(me.email))!;
    await suspendConsoleMember(systemCtx, me.id);
    await reactivateConsoleMember(systemCtx, me.id);
    await expect(resetConsolePassword({ token: beforeSuspension, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    await askReset(me.email);
    const beforeRoleChange = (await resetLink(me.email))!;
    await changeConsoleMemberRole(systemCtx, me.id, { role: "reviewer", environmentIds: [] });
    await expect(resetConsolePassword({ token: beforeRoleChange, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    expect(await signInConsoleMember({ email: me.email, password: PASSWORD })).toMatchObject({ ok: true });
  });

  it("keeps the link out of sight in the outbox (no SMTP) but for owners: an admin cannot read another admin's link", async () => {
    const me = await member("admin");
    const peer = await member("admin");
    await askReset(me.email);
    const seenBy = async (ctx: DomainContext) => (await listOutbox(ctx.actor, 500)).filter((m) => m.to === me.email && m.subject.startsWith("Reset")).length;
    expect(await seenBy(peer)).toBe(0);
    expect(await seenBy(await member("owner"))).toBe(1);
  });

  it("leaves earlier links usable until one is used (someone else's request does not void the member's link); using one voids the rest", async () => {
    const me = await member("admin");
    await askReset(me.email);
    const first = (await resetLink(me.email))!;
    await askReset(me.email, "203.0.113.250");
    const second = (await resetLink(me.email))!;
    expect(second).not.toBe(first);
    expect(await peekConsolePasswordReset(first)).toEqual({ email: me.email });
    await resetConsolePassword({ token: first, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(await peekConsolePasswordReset(second)).toBeNull();
    await expect(resetConsolePassword({ token: second, password: "another long pass phrase", confirm: "another long pass phrase" })).rejects.toThrow("This link was already used or has expired");
    expect(await auditOf(me.id, "console_member.password_reset_requested")).toMatchObject([{ after: { linkDelivered: "outbox" } }, { after: { linkDelivered: "outbox" } }]);
  });

  it("takes a reset and a password change racing for the same member in turn (they deadlocked into a 500): one wins, the other is refused with its reason", async () => {
    const me = await member("admin");
    await askReset(me.email);
    const token = (await resetLink(me.email))!;
    // A third connection holds the member's row; the change queues first, then the reset.
    const outcomes = await whileHeld((held) => held`select id from console_members where id = ${me.id} for update`, [
      () => changeOwnConsolePassword(me, { current: PASSWORD, password: NEW_PASSWORD, confirm: NEW_PASSWORD }).then(() => "changed"),
      () => resetConsolePassword({ token, password: "another long pass phrase", confirm: "another long pass phrase" }).then(() => "reset"),
    ]);
    // The change goes first and voids the link; the reset is refused with why (before: a deadlock, 40P01, a 500).
    expect(outcomes).toEqual(["changed", "This link was already used or has expired; ask for a new one from the sign-in page."]);
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: true });
  });

  it("sends nothing for an unknown, invited or suspended member (audited with the reason)", async () => {
    const invited = `invited-${crypto.randomUUID().slice(0, 8)}@example.com`;
    const { member: invitedMember } = await inviteConsoleMember(systemCtx, { email: invited, role: "reviewer" });
    const outbox = await countRows("email_outbox");
    await askReset(invited);
    expect(await auditOf(invitedMember.id, "console_member.password_reset_requested")).toMatchObject([{ outcome: "failure", reason: "member invited" }]);
    await askReset("nobody-here@example.com");
    const suspended = await member("admin");
    await suspendConsoleMember(systemCtx, suspended.id);
    await askReset(suspended.email);
    expect(await countRows("email_outbox")).toBe(outbox);
    expect(await auditOf(suspended.id, "console_member.password_reset_requested")).toMatchObject([{ outcome: "failure", reason: "member suspended" }]);
    const [unknown] = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console_member.password_reset_requested' and target_label = 'nobody-here@example.com'`);
    expect(unknown).toEqual({ reason: "no such member" });
  });

  it("refuses a weak password or a mismatch as a field error and keeps the link usable; refuses an expired link and a suspended member's", async () => {
    const me = await member("admin");
    await askReset(me.email);
    const first = (await resetLink(me.email))!;
    await expect(resetConsolePassword({ token: first, password: "short", confirm: "short" })).rejects.toMatchObject({ fieldErrors: { password: [expect.stringContaining("12 characters")] } });
    await expect(resetConsolePassword({ token: first, password: NEW_PASSWORD, confirm: "something else entirely" })).rejects.toMatchObject({ fieldErrors: { confirm: ["The passwords do not match."] } });
    expect(await peekConsolePasswordReset(first)).toEqual({ email: me.email });
    await askReset(me.email);
    const second = (await resetLink(me.email))!;
    // Expired.
    await getDb().update(consolePasswordResets).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(consolePasswordResets.memberId, me.id));
    await expect(resetConsolePassword({ token: second, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    await expect(resetConsolePassword({ token: first, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    // Suspended after asking.
    const later = await member("reviewer");
    await askReset(later.email);
    const third = (await resetLink(later.email))!;
    await suspendConsoleMember(systemCtx, later.id);
    const laterHash = (await rowOf(later.id)).passwordHash;
    expect(await peekConsolePasswordReset(third)).toBeNull();
    await expect(resetConsolePassword({ token: third, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    expect((await rowOf(later.id)).passwordHash).toBe(laterHash);
    await expect(resetConsolePassword({ token: "not a link", password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
    expect(await signInConsoleMember({ email: me.email, password: PASSWORD })).toMatchObject({ ok: true });
  });

  it("limits links per mailbox and per address, telling the limit whatever the email; a malformed address is a field error", async () => {
    const me = await member("admin");
    for (let i = 0; i < 5; i++) await askReset(me.email, `192.0.2.${i + 1}`);
    await expect(requestConsolePasswordReset(me.email, { ip: "192.0.2.99" })).rejects.toMatchObject({ status: 429, message: expect.stringMatching(/^Too many requests; retry in \d+ s\.$/) });
    for (let i = 0; i < 20; i++) await requestConsolePasswordReset(`nobody-${i}@example.com`, { ip: "192.0.2.200" });
    await expect(requestConsolePasswordReset(`nobody-21@example.com`, { ip: "192.0.2.200" })).rejects.toMatchObject({ status: 429 });
    await expect(requestConsolePasswordReset("not an address", { ip: "192.0.2.201" })).rejects.toMatchObject({ fieldErrors: { email: [expect.any(String)] } });
  });
});

describe("an owner's reset link, and self-service reset turned off", () => {
  const writes = async () => ({ links: await countRows("console_password_resets"), mails: await countRows("email_outbox") });

  it("an owner sends a member a link: their password and sessions stay until it is used; audited as the owner; the mail says who sent it", async () => {
    const owner = await member("owner");
    const me = await member("admin", 2);
    const { expiresAt } = await sendConsolePasswordReset(owner, me.id);
    expect(expiresAt.getTime()).toBeGreaterThan(Date.now() + 55 * 60_000);
    expect(await alive(me.sessions[1]!)).toBe(true);
    expect(await signInConsoleMember({ email: me.email, password: PASSWORD })).toMatchObject({ ok: true });
    const mail = (await listOutbox(owner.actor, 500)).find((m) => m.to === me.email && m.subject.startsWith("Reset"))!;
    expect(mail.body).toContain(`${owner.email}, an owner of the console, sent you this link`);
    expect(mail.body).toContain(`If you did not expect this, ask ${owner.email} why.`);
    expect(await auditOf(me.id, "console_member.password_reset_sent")).toMatchObject([{ outcome: "success", actor_id: owner.id, after: { linkDelivered: "outbox" } }]);
    await resetConsolePassword({ token: await resetLink(me.email), password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    expect(await alive(me.sessions[1]!)).toBe(false);
    expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: true });
  });

  it("refuses anyone but an owner, an owner's own account, and a member who has no password to reset, each with its reason, writing nothing", async () => {
    const owner = await member("owner");
    const admin = await member("admin");
    const target = await member("reviewer");
    const suspended = await member("reviewer");
    await suspendConsoleMember(systemCtx, suspended.id);
    const before = await writes();
    const refusal = (p: Promise<unknown>) => p.then(() => "sent", (e: Error & { status?: number }) => `${e.status} ${e.message}`);
    expect(await refusal(sendConsolePasswordReset(admin, target.id))).toBe("403 Only an owner signed in to the console can send a member a password reset link.");
    expect(await refusal(sendConsolePasswordReset(owner, owner.id))).toBe("400 Change your own password on your Security page.");
    expect(await refusal(sendConsolePasswordReset(owner, suspended.id))).toBe(`400 ${suspended.email} is suspended: only an active member gets a reset link.`);
    expect(await refusal(sendConsolePasswordReset(owner, crypto.randomUUID()))).toBe("404 Console member not found.");
    expect(await refusal(sendConsolePasswordReset(owner, "not-an-id"))).toMatch(/^400 /);
    const ssoOnly = await member("reviewer");
    await getDb().execute(sql`update console_members set password_hash = null, sso_identity_provider_id = ${f.idp.id}, sso_subject = ${ssoOnly.email} where id = ${ssoOnly.id}`);
    expect(await refusal(sendConsolePasswordReset(owner, ssoOnly.id))).toBe(`400 ${ssoOnly.email} signs in through single sign-on: there is no console password to reset.`);
    await updateConsoleSso(systemCtx, { enabled: true, identityProviderId: f.idp.id, passwordSignIn: "owners", mappings: [{ idpValue: "Admins", role: "admin", environmentIds: [] }] });
    try {
      expect(await refusal(sendConsolePasswordReset(owner, target.id))).toBe(`400 Console passwords are kept for owners: ${target.email} signs in through single sign-on.`);
    } finally {
      await updateConsoleSso(systemCtx, { enabled: false, passwordSignIn: "everyone" });
    }
    expect(await writes()).toEqual(before);
  });

  it("off: the sign-in page's request is refused with the reason (nothing written, nothing counted), links members asked for stop working for good; an owner's link still works", async () => {
    const owner = await member("owner");
    const me = await member("admin");
    await askReset(me.email);
    const asked = (await resetLink(me.email))!;
    try {
      expect(await setConsolePasswordReset(owner, { selfServiceReset: false })).toEqual({ selfServiceReset: false, linksVoided: expect.any(Number) });
      const before = await writes();
      const audits = await countRows("audit_events");
      await expect(requestConsolePasswordReset(me.email, { ip: "192.0.2.77" })).rejects.toMatchObject({ status: 403, message: SELF_SERVICE_RESET_OFF });
      expect(await writes()).toEqual(before);
      expect(await countRows("audit_events")).toBe(audits);
      expect(await peekConsolePasswordReset(asked)).toBeNull();
      await expect(resetConsolePassword({ token: asked, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This link was already used or has expired");
      await sendConsolePasswordReset(owner, me.id);
      const sent = (await resetLink(me.email))!;
      expect(await peekConsolePasswordReset(sent)).toEqual({ email: me.email });
      await resetConsolePassword({ token: sent, password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      expect(await signInConsoleMember({ email: me.email, password: NEW_PASSWORD })).toMatchObject({ ok: true });
    } finally {
      await setConsolePasswordReset(owner, { selfServiceReset: true });
    }
    // On again, the voided link stays void; audited both ways, the first with the links it voided.
    expect(await peekConsolePasswordReset(asked)).toBeNull();
    const rows = await getDb().execute<{ before: Record<string, unknown>; after: Record<string, unknown> }>(
      sql`select before, after from audit_events where action = 'console.security.update' and actor_id = ${owner.id} order by id`,
    );
    expect(rows.map((r) => [r.before.selfServiceReset, r.after.selfServiceReset])).toEqual([
      [true, false],
      [false, true],
    ]);
    expect(Number(rows[0]!.after.linksVoided)).toBeGreaterThanOrEqual(1);
  });

  it("a link asked for while an owner turns self-service off is refused at use, with the reason, while it is off", async () => {
    const owner = await member("owner");
    const me = await member("admin");
    await askReset(me.email);
    const asked = (await resetLink(me.email))!;
    // The link was issued after the voiding (a request racing the switch): the use checks the switch itself.
    try {
      await setConsolePasswordReset(owner, { selfServiceReset: false });
      await getDb().update(consolePasswordResets).set({ usedAt: null }).where(eq(consolePasswordResets.tokenHash, hashToken(asked)));
      expect(await peekConsolePasswordReset(asked)).toEqual({ email: me.email, refusal: SELF_SERVICE_RESET_OFF });
      await expect(resetConsolePassword({ token: asked, password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow(SELF_SERVICE_RESET_OFF);
      expect(await signInConsoleMember({ email: me.email, password: PASSWORD })).toMatchObject({ ok: true });
    } finally {
      await setConsolePasswordReset(owner, { selfServiceReset: true });
    }
  });

  it("only an owner turns self-service reset off or on", async () => {
    const admin = await member("admin");
    await expect(setConsolePasswordReset(admin, { selfServiceReset: false })).rejects.toMatchObject({ status: 403, message: "Only an owner can change whether members reset a forgotten password themselves." });
    await expect(setConsolePasswordReset(await member("owner"), { selfServiceReset: "no" })).rejects.toMatchObject({ fieldErrors: { selfServiceReset: ["Say on or off."] } });
    expect((await consoleSecurity()).selfServiceReset).toBe(true);
  });
});
