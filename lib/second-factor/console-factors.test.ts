import { eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { consoleMembers, consoleSessions, environmentAuth } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { readConsoleSession } from "@/lib/auth/session";
import { inTransaction } from "@/lib/domain/transaction";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { planBetween } from "@/lib/environments/promotion";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { encode } from "next-auth/jwt";
import {
  checkSecondFactor,
  confirmSecondFactor,
  memberOwner,
  confirmTotpEnrolment,
  regenerateRecoveryCodes,
  removeSecondFactor,
  resetMemberSecondFactors,
  secondFactorsOf,
  setRequireSecondFactor,
  startTotpEnrolment,
  stepUpSatisfied,
} from ".";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: () => undefined }));

// Console members' second factors, against Postgres: enrolment, sign-in with a code, codes used
// once (TOTP and recovery), the lockout, step-up, the owners' requirement and the owner's reset.

const PASSWORD = "a long test password";
const now = () => Math.floor(Date.now() / 1000);
/** The code of the time step `offset` steps from now (±1 is accepted; each step's code once). */
const code = (secret: string, offset = 0) => generate({ secret, epoch: now() + offset * 30 });

type Member = DomainContext & { sessionId?: string };
async function enrolled(role: "owner" | "admin" | "reviewer" = "admin"): Promise<{ ctx: Member; email: string; secret: string; recoveryCodes: string[] }> {
  const ctx = await realMemberCtx(role);
  const { factorId, secret } = await startTotpEnrolment(ctx);
  const { recoveryCodes } = await confirmTotpEnrolment(ctx, { factorId, code: await code(secret), name: "Phone" });
  return { ctx, email: ctx.actor.label, secret, recoveryCodes: recoveryCodes! };
}
const signIn = (email: string, extra: { code?: string; password?: string } = {}) => signInConsoleMember({ email, password: extra.password ?? PASSWORD, code: extra.code });

beforeEach(() => cookieJar.clear());

describe("enrolling an authenticator app", () => {
  it("confirms it with its first code, and gives ten recovery codes kept only as hashes, audited", async () => {
    const ctx = await realMemberCtx("admin");
    const { factorId, secret, uri, qrSvg } = await startTotpEnrolment(ctx);
    expect(uri).toMatch(/^otpauth:\/\/totp\/IAM%20Console:.+\?secret=/);
    expect(qrSvg).toMatch(/^<svg/);
    expect((await secondFactorsOf(memberOwner(ctx.actor.id!))).factors).toEqual([]);

    const wrong = await confirmTotpEnrolment(ctx, { factorId, code: "000000" }).catch((e) => e);
    expect(wrong.fieldErrors).toEqual({ code: ["That code is not right: check the app's clock and try the current code."] });
    const { factor, recoveryCodes } = await confirmTotpEnrolment(ctx, { factorId, code: await code(secret), name: "Work phone" });
    expect(factor).toMatchObject({ kind: "totp", name: "Work phone" });
    expect(recoveryCodes).toHaveLength(10);
    expect(new Set(recoveryCodes).size).toBe(10);
    const stored = await getDb().execute<{ code_hash: string }>(sql`select code_hash from recovery_codes where member_id = ${ctx.actor.id}`);
    expect(stored.map((r) => r.code_hash).some((h) => recoveryCodes!.some((c) => h.includes(c.replace("-", ""))))).toBe(false);
    const secrets = await getDb().execute<{ secret_sealed: string }>(sql`select secret_sealed from second_factors where member_id = ${ctx.actor.id}`);
    expect(secrets[0]!.secret_sealed).not.toContain(secret);
    expect(await secondFactorsOf(memberOwner(ctx.actor.id!))).toMatchObject({ factors: [{ kind: "totp", name: "Work phone" }], recoveryCodesLeft: 10 });
    const [audit] = await getDb().execute<{ after: unknown }>(sql`select after from audit_events where action = 'console_member.second_factor.add' and target_id = ${ctx.actor.id}`);
    expect(audit!.after).toEqual({ kind: "totp", name: "Work phone", recoveryCodes: 10 });
    expect(JSON.stringify(audit)).not.toContain(secret);
  });

  it("refuses to confirm twice, another member's enrolment, and an API token", async () => {
    const ctx = await realMemberCtx("admin");
    const other = await realMemberCtx("admin");
    const { factorId, secret } = await startTotpEnrolment(ctx);
    expect((await confirmTotpEnrolment(other, { factorId, code: await code(secret) }).catch((e) => e)).message).toBe("This enrolment is gone: start again.");
    await confirmTotpEnrolment(ctx, { factorId, code: await code(secret) });
    expect((await confirmTotpEnrolment(ctx, { factorId, code: await code(secret, 1) }).catch((e) => e)).message).toBe("This authenticator app is already confirmed.");
    const token: DomainContext = { actor: { type: "api_token", id: crypto.randomUUID(), label: "t", scope: "write", environmentIds: null, createdBy: ctx.actor.id } as never };
    expect((await startTotpEnrolment(token).catch((e) => e)).message).toBe("Only a signed-in person manages their own second factors.");
  });
});

describe("signing in with a second factor", () => {
  it("asks for the code after a right password, opens the session with a right one, and records when", async () => {
    const { email, secret } = await enrolled();
    expect(await signIn(email)).toEqual({ ok: false, reason: "second_factor_required" });
    // A wrong password is still just wrong: the code is asked only after the right one.
    expect(await signIn(email, { password: "wrong", code: await code(secret) })).toEqual({ ok: false, reason: "invalid" });
    const result = await signIn(email, { code: await code(secret, 1) });
    expect(result.ok).toBe(true);
    const [session] = await getDb().select().from(consoleSessions).where(eq(consoleSessions.id, result.ok ? result.sessionId : ""));
    expect(session!.secondFactorAt).not.toBeNull();
    const [audit] = await getDb().execute<{ after: unknown }>(sql`select after from audit_events where action = 'console.sign_in' and outcome = 'success' and target_label = ${email}`);
    expect(audit!.after).toEqual({ secondFactor: "totp" });
  });

  it("uses each code once: the same code again, or an older one, is refused as used", async () => {
    const { email, secret } = await enrolled();
    const current = await code(secret, 1);
    expect((await signIn(email, { code: current })).ok).toBe(true);
    expect(await signIn(email, { code: current })).toEqual({ ok: false, reason: "second_factor_wrong", detail: "That code was already used: wait for the next one." });
    expect(await signIn(email, { code: await code(secret, 0) })).toEqual({ ok: false, reason: "second_factor_wrong", detail: "That code was already used: wait for the next one." });
    expect(await signIn(email, { code: "12345" })).toEqual({ ok: false, reason: "second_factor_wrong", detail: "Enter the 6-digit code from your authenticator app, or a recovery code." });
  });

  it("lets two requests racing with the same code open one session, not two", async () => {
    const { ctx, secret } = await enrolled();
    const typed = await code(secret, 1);
    const results = await Promise.all([0, 1, 2].map(() => inTransaction((tx) => checkSecondFactor(tx, memberOwner(ctx.actor.id!), typed))));
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual([{ ok: false, reason: "replayed" }, { ok: false, reason: "replayed" }]);
  });

  it("takes a recovery code once, in any case and with or without its dash", async () => {
    const { ctx, email, recoveryCodes } = await enrolled();
    const [first, second] = recoveryCodes;
    expect((await signIn(email, { code: first!.toUpperCase() })).ok).toBe(true);
    expect(await signIn(email, { code: first! })).toEqual({ ok: false, reason: "second_factor_wrong", detail: "That code is not right." });
    expect((await signIn(email, { code: second!.replace("-", "") })).ok).toBe(true);
    expect((await secondFactorsOf(memberOwner(ctx.actor.id!))).recoveryCodesLeft).toBe(8);
    const [audit] = await getDb().execute<{ after: unknown }>(sql`select after from audit_events where action = 'console.sign_in' and outcome = 'success' and target_label = ${email} order by id desc limit 1`);
    expect(audit!.after).toEqual({ secondFactor: "recovery_code" });
  });

  it("counts wrong codes toward the lockout: after ten, even the right code is refused", async () => {
    const { ctx, email, secret } = await enrolled();
    for (let i = 0; i < 10; i++) expect(await signIn(email, { code: "000000" })).toMatchObject({ ok: false, reason: "second_factor_wrong" });
    expect(await signIn(email, { code: await code(secret, 1) })).toEqual({ ok: false, reason: "locked" });
    const [member] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, ctx.actor.id!));
    expect(member!.failedSignIns).toBe(10);
    const reasons = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console.sign_in' and outcome = 'failure' and target_label = ${email} order by id limit 1`);
    expect(reasons[0]!.reason).toBe("second factor wrong");
  });

  it("new recovery codes replace the old ones", async () => {
    const { ctx, email, recoveryCodes } = await enrolled();
    const { recoveryCodes: fresh } = await regenerateRecoveryCodes(ctx);
    expect(await signIn(email, { code: recoveryCodes[0]! })).toMatchObject({ ok: false, reason: "second_factor_wrong" });
    expect((await signIn(email, { code: fresh[0]! })).ok).toBe(true);
  });
});

describe("step-up for sensitive actions", () => {
  it("is satisfied for 15 minutes after a proven factor; a code renews it; members without a factor are not asked", async () => {
    const { ctx, email, secret, recoveryCodes } = await enrolled();
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    expect(await stepUpSatisfied(ctx.actor.id!, sessionId)).toBe(true);
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    expect(await stepUpSatisfied(ctx.actor.id!, sessionId)).toBe(false);
    const wrong = await confirmSecondFactor({ ...ctx, sessionId }, "000000").catch((e) => e);
    expect(wrong.fieldErrors).toEqual({ code: ["That code is not right."] });
    expect(await stepUpSatisfied(ctx.actor.id!, sessionId)).toBe(false);
    // The code of the step used at sign-in is spent (a newer one comes with time); a recovery code serves now.
    const replayed = await confirmSecondFactor({ ...ctx, sessionId }, await code(secret, 1)).catch((e) => e);
    expect(replayed.fieldErrors).toEqual({ code: ["That code was already used: wait for the next one."] });
    await confirmSecondFactor({ ...ctx, sessionId }, recoveryCodes[0]);
    expect(await stepUpSatisfied(ctx.actor.id!, sessionId)).toBe(true);
    const outcomes = await getDb().execute<{ outcome: string }>(sql`select outcome from audit_events where action = 'console_member.step_up' and target_id = ${ctx.actor.id} order by id`);
    expect(outcomes.map((o) => o.outcome)).toEqual(["failure", "failure", "success"]);

    const plain = await signInAs("admin");
    const [row] = await getDb().select({ id: consoleSessions.id }).from(consoleSessions).where(eq(consoleSessions.memberId, plain.memberId));
    expect(await stepUpSatisfied(plain.memberId, row!.id)).toBe(true);
  });

  it("counts wrong step-up codes toward the member's lockout: a stolen session cannot guess its way past it", async () => {
    const { ctx, email, secret } = await enrolled();
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    for (let i = 0; i < 10; i++) await confirmSecondFactor({ ...ctx, sessionId }, String(100000 + i)).catch(() => undefined);
    const locked = await confirmSecondFactor({ ...ctx, sessionId }, await code(secret)).catch((e) => e);
    expect(locked.fieldErrors).toEqual({ code: ["Too many wrong passwords or codes: try again in a few minutes."] });
    expect(await signIn(email, { code: await code(secret) })).toEqual({ ok: false, reason: "locked" });
    const reasons = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console_member.step_up' and target_id = ${ctx.actor.id} order by id desc limit 1`);
    expect(reasons[0]!.reason).toBe("locked");
  });

  it("asks for it before adding another factor, and adding one proves nothing the session had not", async () => {
    const { startTotpAction, confirmTotpAction } = await import("@/app/console/security/actions");
    const { inviteMemberAction, resendInvitationAction } = await import("@/app/console/[env]/settings/members/actions");
    const { email, secret, ctx } = await enrolled("owner");
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    cookieJar.set("next-auth.session-token", await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }));
    // An invitation made while the proof was fresh, to resend later.
    const invited = await inviteMemberAction({ email: `resend.${crypto.randomUUID().slice(0, 6)}@example.com`, role: "admin" });
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    const stepUp = { ok: false, error: "Confirm it is you: enter a code from your authenticator app.", code: "step_up_required" };
    expect(await startTotpAction()).toEqual(stepUp);
    expect(await resendInvitationAction(invited.ok ? invited.data.id : "")).toEqual(stepUp);
    // Added in the domain all the same (as if the session had just proven it): the session is not stepped up by it.
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now()` }).where(eq(consoleSessions.id, sessionId));
    const { factorId, secret: second } = await startTotpEnrolment(ctx);
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    await confirmTotpEnrolment({ ...ctx, sessionId }, { factorId, code: await code(second), name: "Attacker" });
    expect(await stepUpSatisfied(ctx.actor.id!, sessionId)).toBe(false);
    expect(await confirmTotpAction({ factorId, code: await code(second) })).toEqual(stepUp);
  });

  it("makes a sensitive console action answer step_up_required, and run once the factor is confirmed", async () => {
    const { createApiTokenAction } = await import("@/app/console/[env]/settings/actions");
    const { confirmSecondFactorAction } = await import("@/app/console/security/actions");
    const { email, secret, recoveryCodes } = await enrolled("owner");
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    cookieJar.set("next-auth.session-token", await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }));
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    const before = await countRows("api_tokens");
    expect(await createApiTokenAction({ name: "ci", scope: "read" })).toEqual({ ok: false, error: "Confirm it is you: enter a code from your authenticator app.", code: "step_up_required" });
    expect(await countRows("api_tokens")).toBe(before);
    expect(await confirmSecondFactorAction("000000")).toMatchObject({ ok: false, fieldErrors: { code: ["That code is not right."] } });
    expect(await confirmSecondFactorAction(recoveryCodes[0])).toEqual({ ok: true, data: { confirmed: true } });
    expect((await createApiTokenAction({ name: "ci", scope: "read" })).ok).toBe(true);
    expect(await countRows("api_tokens")).toBe(before + 1);
  });

  it("asks for it before what hands the account to someone else as a role change would: inviting a member, connecting or changing an IdP, a webhook streaming the trail out", async () => {
    const settings = await import("@/app/console/[env]/settings/actions");
    const members = await import("@/app/console/[env]/settings/members/actions");
    const idps = await import("@/app/console/[env]/identity-providers/actions");
    const { email, secret } = await enrolled("owner");
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    cookieJar.set("next-auth.session-token", await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }));
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    const stepUp = { ok: false, error: "Confirm it is you: enter a code from your authenticator app.", code: "step_up_required" };
    const before = { members: await countRows("console_members"), idps: await countRows("identity_providers"), webhooks: await countRows("webhook_endpoints"), audit: await countRows("audit_events") };
    expect(await members.inviteMemberAction({ email: "new-admin@attacker.example", role: "admin" })).toEqual(stepUp);
    expect(await idps.createIdpAction({ name: "Theirs", metadataXml: "<x/>" })).toEqual(stepUp);
    expect(await idps.updateIdpAction(crypto.randomUUID(), { autoTrustRollover: true })).toEqual(stepUp);
    expect(await settings.createWebhookAction({ name: "Out", url: "https://collector.example/hook", actions: ["*"] })).toEqual(stepUp);
    expect({ members: await countRows("console_members"), idps: await countRows("identity_providers"), webhooks: await countRows("webhook_endpoints"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("asks for the step-up before a promotion, which can change an environment's sign-in settings as the settings page does; nothing is promoted until it is confirmed", async () => {
    const { promoteAction } = await import("@/app/console/[env]/promote/actions");
    const { confirmSecondFactorAction } = await import("@/app/console/security/actions");
    const envs = await createEnvironments();
    await updateEnvironmentAuth(systemCtx, envs.dev.id, { ...(await getEnvironmentAuth(envs.dev.id)), breakGlassUserIds: [], sessionLifetimeMinutes: 30, idleTimeoutMinutes: 15 });
    const plan = await planBetween(systemCtx, "dev", "prod");
    expect(plan.changes).toContainEqual(expect.objectContaining({ kind: "sign-in" }));
    const prodAuth = async () => (await getDb().select().from(environmentAuth).where(eq(environmentAuth.environmentId, envs.prod.id)))[0];
    const before = await prodAuth();
    const { email, secret, recoveryCodes } = await enrolled("owner");
    const result = await signIn(email, { code: await code(secret, 1) });
    const sessionId = result.ok ? result.sessionId : "";
    cookieJar.set("next-auth.session-token", await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }));
    await getDb().update(consoleSessions).set({ secondFactorAt: sql`now() - interval '16 minutes'` }).where(eq(consoleSessions.id, sessionId));
    expect(await promoteAction({ from: "dev", to: "prod", planHash: plan.hash })).toEqual({ ok: false, error: "Confirm it is you: enter a code from your authenticator app.", code: "step_up_required" });
    expect(await prodAuth()).toEqual(before);
    expect(await confirmSecondFactorAction(recoveryCodes[0])).toEqual({ ok: true, data: { confirmed: true } });
    expect(await promoteAction({ from: "dev", to: "prod", planHash: plan.hash })).toMatchObject({ ok: true, data: { hash: plan.hash } });
    expect(await prodAuth()).toMatchObject({ sessionLifetimeMinutes: 30, idleTimeoutMinutes: 15 });
  });
});

describe("the owners' requirement and reset", () => {
  it("sends members without a factor to enrol (pages and actions refuse them), and keeps the last factor while required", async () => {
    const { createGroupAction } = await import("@/app/console/[env]/users/actions");
    const owner = await enrolled("owner");
    expect((await setRequireSecondFactor(await realMemberCtx("owner"), { requireSecondFactor: true }).catch((e) => e)).message).toBe(
      "Add a second factor to your own account first, so you are not sent to enrol by your own rule.",
    );
    await setRequireSecondFactor(owner.ctx, { requireSecondFactor: true });
    try {
      const plain = await signInAs("admin");
      const session = await readConsoleSession(cookieJar.get("next-auth.session-token"));
      expect(session).toMatchObject({ mustEnrol: true, member: { id: plain.memberId } });
      expect(await createGroupAction({ environment: "dev", name: "x" })).toEqual({ ok: false, error: "The console requires a second factor: set one up first (Security)." });
      const { startTotpAction, confirmTotpAction } = await import("@/app/console/security/actions");
      const started = await startTotpAction();
      expect(started.ok).toBe(true);
      const { factorId, secret } = (started as { ok: true; data: { factorId: string; secret: string } }).data;
      const confirmed = await confirmTotpAction({ factorId, code: await code(secret) });
      expect(confirmed).toMatchObject({ ok: true, data: { name: "Authenticator app" } });
      expect(await readConsoleSession(cookieJar.get("next-auth.session-token"))).toMatchObject({ mustEnrol: false });

      const [only] = (await secondFactorsOf(memberOwner(owner.ctx.actor.id!))).factors;
      expect((await removeSecondFactor(owner.ctx, only!.id).catch((e) => e)).message).toBe("The console requires a second factor: add another before removing this one.");
    } finally {
      await setRequireSecondFactor(owner.ctx, { requireSecondFactor: false });
    }
    const [only] = (await secondFactorsOf(memberOwner(owner.ctx.actor.id!))).factors;
    await removeSecondFactor(owner.ctx, only!.id);
    expect(await secondFactorsOf(memberOwner(owner.ctx.actor.id!))).toEqual({ factors: [], recoveryCodesLeft: 0 });
  });

  it("lets an owner reset another member's factors: they go, the member's sessions end, audited; not an admin, not on oneself", async () => {
    const owner = await enrolled("owner");
    const member = await enrolled("reviewer");
    const result = await signIn(member.email, { code: await code(member.secret, 1) });
    expect(result.ok).toBe(true);
    expect((await resetMemberSecondFactors(await realMemberCtx("admin"), member.ctx.actor.id!).catch((e) => e)).message).toBe(
      "Only an owner signed in to the console can reset a member's second factors.",
    );
    expect((await resetMemberSecondFactors(owner.ctx, owner.ctx.actor.id!).catch((e) => e)).message).toBe("Manage your own second factors on your security page.");
    expect(await resetMemberSecondFactors(owner.ctx, member.ctx.actor.id!)).toEqual({ removed: 1, sessionsEnded: 1 });
    expect(await secondFactorsOf(memberOwner(member.ctx.actor.id!))).toEqual({ factors: [], recoveryCodesLeft: 0 });
    expect((await signIn(member.email)).ok).toBe(true);
    const [audit] = await getDb().execute<{ actor_label: string; before: unknown; after: unknown }>(sql`select actor_label, before, after from audit_events where action = 'console_member.second_factor.reset'`);
    expect(audit).toEqual({ actor_label: owner.email, before: { factors: 1 }, after: { factors: 0, sessionsEnded: 1 } });
  });
});
