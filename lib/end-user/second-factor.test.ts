import { eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { users, type Environment } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { confirmTotpEnrolment, removeSecondFactor, resetUserSecondFactors, secondFactorsOf, startTotpEnrolment, userOwner } from "@/lib/second-factor";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { mintAccessToken } from "@/lib/tokens/mint";
import { createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { completeSecondFactorSignIn, INVALID_CREDENTIALS, requestPasswordReset, sendInvitation, setPasswordWithLink, signInWithPassword } from "./password-accounts";
import { readEndUserSession } from "./sessions";
import { createIdentityProvider } from "@/lib/sso/identity-providers";
import { configureSso } from "@/lib/sso/testing/fixture";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";

// End users' second factors on password sign-in, per environment (off, optional, required): the
// second step with a code, counted toward the lockout; enrolment first where required (no access
// token until then); the user's own last factor kept where required; an admin's reset, in scope.

let env: { dev: Environment; test: Environment; prod: Environment };
const PASSWORD = "correct horse battery staple";
let ip = 0;
const request = () => ({ ip: `203.0.113.${++ip}` });
const code = (secret: string, offset = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });

beforeAll(async () => {
  env = await createEnvironments();
});

async function policy(environment: Environment, secondFactor: "off" | "optional" | "required") {
  const current = await getEnvironmentAuth(environment.id);
  await updateEnvironmentAuth(systemCtx, environment.id, { ...current, identityProviderId: current.identityProviderId, secondFactor, expectedVersion: undefined });
}

/** A user with a password in `environments`, signed in once (for a session to enrol from). */
async function userWithPassword(email: string, environments: Environment[]) {
  const { createUser } = await import("@/lib/users");
  const user = await createUser(systemCtx, { name: "Eve User", email, status: "invited", environmentIds: environments.map((e) => e.id) });
  await sendInvitation(systemCtx, { userId: user.id, environmentId: environments[0]!.id });
  const [mail] = await getDb().execute<{ body: string }>(sql`select body from email_outbox where "to" = ${email} order by created_at desc limit 1`);
  const token = mail!.body.match(/\/invite\/([A-Za-z0-9_-]+)/)![1]!;
  await setPasswordWithLink("invite", environments[0]!.key, { token, password: PASSWORD, confirm: PASSWORD });
  return user;
}

async function enrol(userId: string, email: string): Promise<string> {
  const ctx: DomainContext = { actor: { type: "end_user", id: userId, label: email, environmentIds: [] } };
  const { factorId, secret } = await startTotpEnrolment(ctx);
  await confirmTotpEnrolment(ctx, { factorId, code: await code(secret) });
  return secret;
}

describe("end users' second factors", () => {
  it("where off, a user with a factor signs in with the password alone", async () => {
    await policy(env.test, "off");
    const user = await userWithPassword("off.user@example.com", [env.test]);
    await enrol(user.id, user.email);
    const result = await signInWithPassword("test", { email: user.email, password: PASSWORD }, request());
    expect(result.ok).toBe(true);
  });

  it("where optional, asks a user with a factor for the code: a wrong one counts and is audited, the right one signs in", async () => {
    await policy(env.dev, "optional");
    const plain = await userWithPassword("plain.user@example.com", [env.dev]);
    expect((await signInWithPassword("dev", { email: plain.email, password: PASSWORD }, request())).ok).toBe(true);

    const user = await userWithPassword("two.step@example.com", [env.dev]);
    const secret = await enrol(user.id, user.email);
    const first = await signInWithPassword("dev", { email: user.email, password: PASSWORD }, request());
    expect(first).toMatchObject({ ok: false, message: "Enter the code from your authenticator app, or a recovery code.", secondStep: expect.any(String) });
    // A wrong password still says nothing more than before.
    expect(await signInWithPassword("dev", { email: user.email, password: "wrong wrong wrong" }, request())).toEqual({ ok: false, message: INVALID_CREDENTIALS });

    const secondStep = (first as { secondStep: string }).secondStep;
    const [before] = await getDb().select({ failed: users.failedSignIns }).from(users).where(eq(users.id, user.id));
    const wrong = await completeSecondFactorSignIn("dev", { secondStep, code: "000000" }, request());
    expect(wrong).toMatchObject({ ok: false, message: "That code is not right.", secondStep });
    const [after] = await getDb().select({ failed: users.failedSignIns }).from(users).where(eq(users.id, user.id));
    expect(after!.failed).toBe(before!.failed + 1);

    const ok = await completeSecondFactorSignIn("dev", { secondStep, code: await code(secret, 1) }, request());
    expect(ok.ok).toBe(true);
    const session = await readEndUserSession("dev", ok.ok ? ok.signedIn.token : "");
    expect(session).toMatchObject({ mustEnrol: false, session: { method: "password", secondFactor: "totp" } });
    const audit = await getDb().execute<{ outcome: string; reason: string | null; after: unknown }>(
      sql`select outcome, reason, after from audit_events where action = 'end_user.sign_in' and target_id = ${user.id} order by id desc limit 2`,
    );
    expect(audit).toEqual([
      { outcome: "success", reason: null, after: { method: "password", secondFactor: "totp" } },
      { outcome: "failure", reason: "second factor wrong", after: { method: "password" } },
    ]);
  });

  it("wrong codes up to the threshold lock the account and mail the unlock link, as wrong passwords do", async () => {
    const { unlockWithLink } = await import("./password-accounts");
    const { env: config } = await import("@/env");
    await policy(env.dev, "optional");
    const user = await userWithPassword("code.guesser@example.com", [env.dev]);
    await enrol(user.id, user.email);
    const first = await signInWithPassword("dev", { email: user.email, password: PASSWORD }, request());
    const secondStep = (first as { secondStep: string }).secondStep;
    const [start] = await getDb().select({ failed: users.failedSignIns }).from(users).where(eq(users.id, user.id));
    for (let i = start!.failed; i < config().PASSWORD_LOCKOUT_THRESHOLD; i++) await completeSecondFactorSignIn("dev", { secondStep, code: "000000" }, request());
    const [locked] = await getDb().select({ lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, user.id));
    expect(locked!.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
    const [mail] = await getDb().execute<{ subject: string; body: string }>(sql`select subject, body from email_outbox where "to" = ${user.email} order by created_at desc limit 1`);
    expect(mail!.subject).toBe("Your DEV sign-in is paused");
    const token = mail!.body.match(/\/unlock\/([A-Za-z0-9_-]+)/)![1]!;
    const [audit] = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'end_user.sign_in' and target_id = ${user.id} order by id desc limit 1`);
    expect(audit!.reason).toBe("second factor wrong; account locked");
    expect(await unlockWithLink("dev", token, request())).toBe(true);
    const [unlocked] = await getDb().select({ lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, user.id));
    expect(unlocked!.lockedUntil).toBeNull();
  });

  it("does not let someone elsewhere who locks the account keep a user with a factor out of their own address: the second step follows the first step's rule", async () => {
    await policy(env.dev, "optional");
    const user = await userWithPassword("factor.home@example.com", [env.dev]);
    const home = { ip: "198.51.100.77" };
    expect((await signInWithPassword("dev", { email: user.email, password: PASSWORD }, home)).ok).toBe(true); // their own address from now on
    const secret = await enrol(user.id, user.email);
    for (let i = 0; i < 10; i++) await signInWithPassword("dev", { email: user.email, password: `a wrong guess ${i}` }, { ip: `192.0.2.${i + 1}` });
    const [locked] = await getDb().select({ until: users.lockedUntil }).from(users).where(eq(users.id, user.id));
    expect(locked!.until!.getTime()).toBeGreaterThan(Date.now());
    // Elsewhere, the lockout holds even the right password back…
    expect(await signInWithPassword("dev", { email: user.email, password: PASSWORD }, { ip: "198.51.100.78" })).toEqual({ ok: false, message: INVALID_CREDENTIALS });
    // …at home, both steps pass (the second refused every locked account, "The sign-in took too long").
    const first = await signInWithPassword("dev", { email: user.email, password: PASSWORD }, home);
    expect(first).toMatchObject({ ok: false, secondStep: expect.any(String) });
    const secondStep = (first as { secondStep: string }).secondStep;
    // A wrong code from home counts toward the account as a wrong password from there does, and is refused with its reason.
    expect(await completeSecondFactorSignIn("dev", { secondStep, code: "000000" }, home)).toMatchObject({ ok: false, message: "That code is not right." });
    expect((await completeSecondFactorSignIn("dev", { secondStep, code: await code(secret, 1) }, home)).ok).toBe(true);
  });

  it("refuses the second step once the environment stopped taking passwords after the first", async () => {
    await policy(env.prod, "optional");
    const user = await userWithPassword("factor.route@example.com", [env.prod]);
    const secret = await enrol(user.id, user.email);
    const first = await signInWithPassword("prod", { email: user.email, password: PASSWORD }, request());
    const secondStep = (first as { secondStep: string }).secondStep;
    const current = await getEnvironmentAuth(env.prod.id);
    // SSO enforced for everyone: no password sign-in here any more.
    const idp = await createIdentityProvider(systemCtx, { name: "Late IdP", metadataXml: idpMetadata("https://late.example.test/metadata", "https://late.example.test/sso", [generateKeyPair("late").certBase64]) });
    await configureSso(env.prod, idp, { enforcement: "all", passwordEnabled: false });
    try {
      expect(await completeSecondFactorSignIn("prod", { secondStep, code: await code(secret, 1) }, request())).toEqual({
        ok: false,
        message: "Password sign-in is no longer used here: start again from the sign-in page.",
      });
      const [audit] = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'end_user.sign_in' and target_id = ${user.id} order by id desc limit 1`);
      expect(audit!.reason).toBe("second step: SSO is enforced for this email");
    } finally {
      await updateEnvironmentAuth(systemCtx, env.prod.id, { ...current, additionalIdentityProviders: [], expectedVersion: undefined });
    }
  });

  it("judges no code past the lockout when wrong codes arrive in parallel: the threshold's worth are audited, the rest refused unjudged", async () => {
    const { env: config } = await import("@/env");
    await policy(env.dev, "optional");
    const user = await userWithPassword("parallel.guesser@example.com", [env.dev]);
    await enrol(user.id, user.email);
    const first = await signInWithPassword("dev", { email: user.email, password: PASSWORD }, request());
    const secondStep = (first as { secondStep: string }).secondStep;
    const [start] = await getDb().select({ failed: users.failedSignIns }).from(users).where(eq(users.id, user.id));
    const threshold = config().PASSWORD_LOCKOUT_THRESHOLD;
    const results = await Promise.all(Array.from({ length: 40 }, () => completeSecondFactorSignIn("dev", { secondStep, code: "000000" }, request())));
    const judged = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where action = 'end_user.sign_in' and target_id = ${user.id} and reason like 'second factor%'`);
    expect(judged[0]!.n).toBe(threshold - start!.failed);
    expect(results.filter((r) => !r.ok && r.message === "The sign-in took too long: enter your email and password again.")).toHaveLength(40 - (threshold - start!.failed));
    const [after] = await getDb().select({ failed: users.failedSignIns, lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, user.id));
    expect(after!.failed).toBe(threshold);
    expect(after!.lockedUntil!.getTime()).toBeGreaterThan(Date.now());
  });

  it("does not sign in through a reset link a user who has a second factor (the link proves the mailbox, not the factor)", async () => {
    await policy(env.dev, "optional");
    const user = await userWithPassword("reset.two@example.com", [env.dev]);
    await enrol(user.id, user.email);
    await requestPasswordReset("dev", user.email, request());
    const [mail] = await getDb().execute<{ body: string }>(sql`select body from email_outbox where "to" = ${user.email} and body like '%/reset/%' order by created_at desc limit 1`);
    const token = mail!.body.match(/\/reset\/([A-Za-z0-9_-]+)/)![1]!;
    const result = await setPasswordWithLink("reset", "dev", { token, password: "a brand new passphrase here", confirm: "a brand new passphrase here" });
    expect(result.token).toBeNull();
    expect(await signInWithPassword("dev", { email: user.email, password: "a brand new passphrase here" }, request())).toMatchObject({ ok: false, secondStep: expect.any(String) });
  });

  it("refuses a second step that expired, was forged, or belongs to another environment", async () => {
    await policy(env.dev, "optional");
    await policy(env.prod, "optional");
    const user = await userWithPassword("steps@example.com", [env.dev, env.prod]);
    const secret = await enrol(user.id, user.email);
    const first = (await signInWithPassword("dev", { email: user.email, password: PASSWORD }, request())) as { secondStep: string };
    const expired = "The sign-in took too long: enter your email and password again.";
    expect(await completeSecondFactorSignIn("prod", { secondStep: first.secondStep, code: await code(secret, 1) }, request())).toEqual({ ok: false, message: expired });
    expect(await completeSecondFactorSignIn("dev", { secondStep: "v1.forged.token", code: await code(secret, 1) }, request())).toEqual({ ok: false, message: expired });
    await expect(completeSecondFactorSignIn("dev", { secondStep: 42, code: "1" }, request())).rejects.toThrow();
    // Five minutes on, the step has expired (the clock is moved, nothing waits).
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 6 * 60_000 });
    try {
      expect(await completeSecondFactorSignIn("dev", { secondStep: first.secondStep, code: await code(secret, 1) }, request())).toEqual({ ok: false, message: expired });
    } finally {
      vi.useRealTimers();
    }
    expect((await completeSecondFactorSignIn("dev", { secondStep: first.secondStep, code: await code(secret, 1) }, request())).ok).toBe(true);
  });

  it("where required, a user without a factor gets a session that only lets them add one: no access token until then", async () => {
    await policy(env.test, "required");
    try {
      const user = await userWithPassword("must.enrol@example.com", [env.test]);
      const result = await signInWithPassword("test", { email: user.email, password: PASSWORD }, request());
      expect(result.ok).toBe(true);
      const token = result.ok ? result.signedIn.token : "";
      const session = await readEndUserSession("test", token);
      expect(session!.mustEnrol).toBe(true);
      await expect(mintAccessToken(session!, "agent_studio")).rejects.toThrow("This environment requires a second factor: add one first (your home page in this environment).");
      await enrol(user.id, user.email);
      expect((await readEndUserSession("test", token))!.mustEnrol).toBe(false);
      // Their only factor stays while an environment they use requires one.
      const ctx: DomainContext = { actor: { type: "end_user", id: user.id, label: user.email, environmentIds: [env.test.id] } };
      const [only] = (await secondFactorsOf(userOwner(user.id))).factors;
      expect((await removeSecondFactor(ctx, only!.id).catch((e) => e)).message).toBe("An environment you use requires a second factor: add another before removing this one.");
    } finally {
      await policy(env.test, "off");
    }
  });

  it("lets an admin whose scope covers the user reset their factors (signed out everywhere, audited); not a DEV admin for a PROD user", async () => {
    const user = await userWithPassword("lost.phone@example.com", [env.dev, env.prod]);
    await enrol(user.id, user.email);
    const devAdmin = await realMemberCtx("environment_admin", [env.dev.id]);
    expect((await resetUserSecondFactors(devAdmin, user.id).catch((e) => e)).message).toBe("This change touches an environment outside your scope.");
    expect(await resetUserSecondFactors(await realMemberCtx("admin"), user.id)).toEqual({ removed: 1 });
    expect(await secondFactorsOf(userOwner(user.id))).toEqual({ factors: [], recoveryCodesLeft: 0 });
    const [row] = await getDb().select({ revokedBefore: users.revokedBefore }).from(users).where(eq(users.id, user.id));
    expect(row!.revokedBefore).not.toBeNull();
    const [audit] = await getDb().execute<{ before: unknown }>(sql`select before from audit_events where action = 'user.second_factor.reset' and target_id = ${user.id}`);
    expect(audit!.before).toEqual({ factors: 1 });
  });

  it("refuses an unknown policy with the field's reason", async () => {
    const current = await getEnvironmentAuth(env.dev.id);
    const error = await updateEnvironmentAuth(systemCtx, env.dev.id, { ...current, secondFactor: "sometimes" }).catch((e) => e);
    expect(error.fieldErrors).toEqual({ secondFactor: ["Choose off, optional or required."] });
  });
});
