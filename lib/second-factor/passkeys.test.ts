import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { passkeySignInOptions, signInConsoleMember } from "@/lib/auth/console-sign-in";
import { realMemberCtx } from "@/test-support/fixtures";
import { SoftAuthenticator } from "@/test-support/soft-authenticator";
import { finishPasskeyRegistration, memberOwner, secondFactorsOf, startPasskeyRegistration } from ".";
import { relyingParty } from "./relying-party";

// Passkeys as a console member's second factor, with a software authenticator whose answers
// @simplewebauthn/server verifies for real: registration, sign-in, each challenge answered once, a
// cloned credential (its counter behind) refused, and a passkey of another member refused.

const PASSWORD = "a long test password";

async function withPasskey(role: "admin" | "reviewer" = "admin") {
  const ctx = await realMemberCtx(role);
  const authenticator = new SoftAuthenticator();
  const options = await startPasskeyRegistration(ctx);
  const response = authenticator.register(options, relyingParty().origin);
  const { factor, recoveryCodes } = await finishPasskeyRegistration(ctx, { response, name: "Laptop" });
  return { ctx, email: ctx.actor.label, authenticator, factor, recoveryCodes, response };
}

async function answer(email: string, authenticator: SoftAuthenticator) {
  const options = await passkeySignInOptions({ email, password: PASSWORD });
  if (!options.ok) throw new Error(`no options: ${options.reason}`);
  return JSON.stringify(authenticator.authenticate(options.options, relyingParty().origin));
}

describe("passkeys", () => {
  it("registers a passkey (the first factor brings recovery codes), and refuses the same registration answer twice", async () => {
    const { ctx, factor, recoveryCodes, response } = await withPasskey();
    expect(factor).toMatchObject({ kind: "passkey", name: "Laptop" });
    expect(recoveryCodes).toHaveLength(10);
    expect(await secondFactorsOf(memberOwner(ctx.actor.id!))).toMatchObject({ factors: [{ kind: "passkey", name: "Laptop" }], recoveryCodesLeft: 10 });
    const again = await finishPasskeyRegistration(ctx, { response, name: "Again" }).catch((e) => e);
    expect(again.fieldErrors).toEqual({ response: ["The passkey request expired: start again."] });
    const [audit] = await getDb().execute<{ after: unknown }>(sql`select after from audit_events where action = 'console_member.second_factor.add' and target_id = ${ctx.actor.id}`);
    expect(audit!.after).toEqual({ kind: "passkey", name: "Laptop", recoveryCodes: 10 });
  });

  it("refuses a registration answered for another challenge, or that is not one", async () => {
    const ctx = await realMemberCtx("admin");
    const options = await startPasskeyRegistration(ctx);
    const forged = new SoftAuthenticator().register({ ...options, challenge: Buffer.from("not the challenge").toString("base64url") }, relyingParty().origin);
    const wrong = await finishPasskeyRegistration(ctx, { response: forged }).catch((e) => e);
    expect(wrong.fieldErrors.response[0]).toMatch(/^The passkey could not be verified: Unexpected registration response challenge/);
    expect((await finishPasskeyRegistration(ctx, { response: { hello: "world" } }).catch((e) => e)).fieldErrors).toEqual({ response: ["This is not a passkey registration."] });
    expect((await secondFactorsOf(memberOwner(ctx.actor.id!))).factors).toEqual([]);
  });

  it("signs in with the passkey after the password; the options need the right password and open no session", async () => {
    const { email, authenticator } = await withPasskey();
    const sessions = async () => (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from console_sessions s join console_members m on m.id = s.member_id where m.email = ${email}`))[0]!.n;
    expect(await passkeySignInOptions({ email, password: "wrong" })).toEqual({ ok: false, reason: "invalid" });
    const options = await passkeySignInOptions({ email, password: PASSWORD });
    expect(options).toMatchObject({ ok: true, options: { rpId: relyingParty().rpID, allowCredentials: [{ id: authenticator.credentialId.toString("base64url") }] } });
    expect(await sessions()).toBe(0);
    const result = await signInConsoleMember({ email, password: PASSWORD, code: await answer(email, authenticator) });
    expect(result.ok).toBe(true);
    const [audit] = await getDb().execute<{ after: unknown }>(sql`select after from audit_events where action = 'console.sign_in' and outcome = 'success' and target_label = ${email}`);
    expect(audit!.after).toEqual({ secondFactor: "passkey" });
  });

  it("takes each answer once, and refuses a cloned credential whose counter is behind", async () => {
    const { email, authenticator } = await withPasskey();
    const first = await answer(email, authenticator);
    expect((await signInConsoleMember({ email, password: PASSWORD, code: first })).ok).toBe(true);
    expect(await signInConsoleMember({ email, password: PASSWORD, code: first })).toMatchObject({ ok: false, reason: "second_factor_wrong", detail: "That code was already used: wait for the next one." });
    // A clone: same key, counter not moved past the last one the server saw.
    const code = await answer(email, authenticator);
    authenticator.counter = 0;
    const options = await passkeySignInOptions({ email, password: PASSWORD });
    const cloned = JSON.stringify(authenticator.authenticate((options as { options: { challenge: string } }).options, relyingParty().origin));
    expect(await signInConsoleMember({ email, password: PASSWORD, code: cloned })).toMatchObject({ ok: false, reason: "second_factor_wrong", detail: "That code is not right." });
    expect(code).not.toBe(cloned);
  });

  it("refuses another member's passkey, and answers no_passkey to a member with only an authenticator app", async () => {
    const alice = await withPasskey();
    const bob = await withPasskey();
    const options = await passkeySignInOptions({ email: alice.email, password: PASSWORD });
    const bobs = JSON.stringify(bob.authenticator.authenticate((options as { options: { challenge: string } }).options, relyingParty().origin));
    expect(await signInConsoleMember({ email: alice.email, password: PASSWORD, code: bobs })).toMatchObject({ ok: false, reason: "second_factor_wrong", detail: "That code is not right." });
    const plain = await realMemberCtx("admin");
    expect(await passkeySignInOptions({ email: plain.actor.label, password: PASSWORD })).toEqual({ ok: false, reason: "no_passkey" });
  });
});
