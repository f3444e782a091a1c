import { beforeAll, describe, expect, it } from "vitest";
import { desc, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { emailOutbox, users } from "@/db/schema";
import { env as appEnv } from "@/env";
import { inTransaction } from "@/lib/domain/transaction";
import { setupSso, type SsoFixture } from "@/lib/sso/testing/fixture";
import { systemCtx } from "@/test-support/fixtures";
import { whileHeld } from "@/test-support/while-held";
import { changeOwnPassword, endUserPasswordRefusal, requestPasswordReset, sendInvitation, setPasswordWithLink, signInWithPassword, signOutOtherSessions } from "./password-accounts";
import { createEndUserSession, readEndUserSession } from "./sessions";
import { createUser, setUserStatus } from "@/lib/users";
import { createResource } from "@/lib/access/resources";
import { consentIsLive } from "@/lib/oauth/consent-state";
import { confirmTotpEnrolment, startTotpEnrolment } from "@/lib/second-factor";
import { generate } from "otplib";

// An end user's own password and sessions, from their home page: changing the password (the current
// one proves it; a wrong one counts toward the lockout), and signing out everywhere else (other
// browsers, other environments and the apps they gave), this session staying.

const GOOD = "correct horse battery staple";
const NEW = "violet kettle drums at noon";

let f: SsoFixture;
beforeAll(async () => {
  f = await setupSso();
});

let n = 0;
const freshIp = () => `198.51.100.${++n}`;

async function lastLink(to: string, kind: "invite" | "reset" | "unlock"): Promise<string | null> {
  const [mail] = await getDb().select().from(emailOutbox).where(eq(emailOutbox.to, to)).orderBy(desc(emailOutbox.createdAt)).limit(1);
  return mail?.body.match(new RegExp(`/e/[a-z]+/${kind}/([A-Za-z0-9_-]+)`))?.[1] ?? null;
}

/** A user of DEV and TEST with a password; `sessions` sign-ins to DEV (and one to TEST), their session tokens. */
async function person(sessions = 1) {
  const email = `person-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const user = await createUser(systemCtx, { name: "Pat Example", email, status: "invited", environmentIds: [f.envs.dev.id, f.envs.test.id] });
  await sendInvitation(systemCtx, { userId: user.id, environmentId: f.envs.dev.id });
  const first = await setPasswordWithLink("invite", "dev", { token: await lastLink(email, "invite"), password: GOOD, confirm: GOOD });
  const dev = [first.token!];
  for (let i = 1; i < sessions; i++) {
    const signedIn = await signInWithPassword("dev", { email, password: GOOD }, { ip: freshIp() });
    if (!signedIn.ok) throw new Error(signedIn.message);
    dev.push(signedIn.signedIn.token);
  }
  const test = await signInWithPassword("test", { email, password: GOOD }, { ip: freshIp() });
  if (!test.ok) throw new Error(test.message);
  return { user, email, dev, test: test.signedIn.token };
}

const live = async (envKey: string, token: string) => (await readEndUserSession(envKey, token)) !== null;
const rowOf = async (id: string) => (await getDb().select().from(users).where(eq(users.id, id)))[0]!;
const auditOf = (id: string, action: string) =>
  getDb().execute<{ outcome: string; reason: string | null; after: Record<string, unknown> | null }>(sql`select outcome, reason, after from audit_events where target_id = ${id} and action = ${action} order by id`);

describe("an end user changes their password", () => {
  it("with the current one: the new one signs in, the old no longer; every other session ends (other environments too), this one stays; audited", async () => {
    const p = await person(3);
    await requestPasswordReset("dev", p.email, { ip: freshIp() });
    const pendingReset = await lastLink(p.email, "reset");
    const changed = await changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW }, { ip: "203.0.113.5" });
    expect(changed.sessionsEnded).toBe(3);
    // The change is no sign-in.
    const row = await rowOf(p.user.id);
    expect(row.lastSignInAt!.getTime()).toBeLessThan(row.passwordChangedAt!.getTime());
    // This browser goes on in a new session; a copy of the old cookie is signed out.
    expect(await live("dev", changed.token)).toBe(true);
    expect(await live("dev", p.dev[0]!)).toBe(false);
    expect(await live("dev", p.dev[1]!)).toBe(false);
    expect(await live("dev", p.dev[2]!)).toBe(false);
    expect(await live("test", p.test)).toBe(false);
    expect(await signInWithPassword("dev", { email: p.email, password: GOOD }, { ip: freshIp() })).toMatchObject({ ok: false });
    expect(await signInWithPassword("dev", { email: p.email, password: NEW }, { ip: freshIp() })).toMatchObject({ ok: true });
    // A reset link asked for before is void.
    await expect(setPasswordWithLink("reset", "dev", { token: pendingReset, password: "another long pass phrase", confirm: "another long pass phrase" })).rejects.toThrow(/already used or has expired/);
    expect(await auditOf(p.user.id, "user.password_change")).toMatchObject([{ outcome: "success", after: { sessionsEnded: 3 } }]);
    // Told by mail.
    const mails = await getDb().select().from(emailOutbox).where(eq(emailOutbox.to, p.email));
    expect(mails.filter((m) => /password was changed$/.test(m.subject))).toHaveLength(1);
  });

  it("refuses a wrong current password beside its field, counting it in this session and toward the account's lockout (audited, with the unlock mail at the threshold)", async () => {
    const p = await person();
    const { PASSWORD_LOCKOUT_THRESHOLD } = appEnv();
    await expect(changeOwnPassword("dev", p.dev[0], { current: "not the password", password: NEW, confirm: NEW })).rejects.toMatchObject({
      fieldErrors: { current: ["That is not your current password."] },
    });
    expect((await rowOf(p.user.id)).failedSignIns).toBe(1);
    expect(await auditOf(p.user.id, "user.password_change")).toMatchObject([{ outcome: "failure", reason: "wrong current password" }]);
    for (let i = 1; i < PASSWORD_LOCKOUT_THRESHOLD; i++) {
      await expect(changeOwnPassword("dev", p.dev[0], { current: `guess ${i}`, password: NEW, confirm: NEW })).rejects.toThrow("That is not your current password.");
    }
    expect((await rowOf(p.user.id)).lockedUntil).not.toBeNull();
    expect(await lastLink(p.email, "unlock")).not.toBeNull();
    // This session has had its guesses: even the right password is refused, unjudged and uncounted.
    await expect(changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW })).rejects.toMatchObject({
      fieldErrors: { current: [expect.stringMatching(/^Too many wrong passwords: try again in \d+ minutes\.$/)] },
    });
    expect((await auditOf(p.user.id, "user.password_change")).at(-1)).toMatchObject({ outcome: "failure", reason: "too many wrong passwords in this session" });
    expect(await signInWithPassword("dev", { email: p.email, password: GOOD }, { ip: freshIp() })).toMatchObject({ ok: false });
  });

  it("does not let someone elsewhere who knows the email stop the signed-in owner from changing it: the account's lockout does not hold the change back", async () => {
    const p = await person();
    const { PASSWORD_LOCKOUT_THRESHOLD } = appEnv();
    for (let i = 0; i < PASSWORD_LOCKOUT_THRESHOLD; i++) await signInWithPassword("dev", { email: p.email, password: "a guess" }, { ip: freshIp() });
    expect((await rowOf(p.user.id)).lockedUntil).not.toBeNull();
    const changed = await changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW });
    expect(await live("dev", changed.token)).toBe(true);
    // The change ends the lockout: the guessed password is gone.
    expect(await rowOf(p.user.id)).toMatchObject({ failedSignIns: 0, lockedUntil: null });
  });

  it("answers 'choose another' only after the current password was judged and counted: it tells nothing once the session's guesses are spent", async () => {
    const p = await person();
    const { PASSWORD_LOCKOUT_THRESHOLD } = appEnv();
    for (let i = 0; i < PASSWORD_LOCKOUT_THRESHOLD; i++) {
      await expect(changeOwnPassword("dev", p.dev[0], { current: `guess ${i}`, password: NEW, confirm: NEW })).rejects.toThrow("That is not your current password.");
    }
    // The right password as current and new: the same refusal a wrong one gets.
    const right = (await changeOwnPassword("dev", p.dev[0], { current: GOOD, password: GOOD, confirm: GOOD }).catch((e: Error) => e.message)) as string;
    const wrong = (await changeOwnPassword("dev", p.dev[0], { current: "another guess", password: "another guess", confirm: "another guess" }).catch((e: Error) => e.message)) as string;
    expect(right).toMatch(/^Too many wrong passwords/);
    expect(wrong).toBe(right);
  });

  it("changes nothing when the user was suspended while the change was under way (it waited on their row)", async () => {
    const p = await person();
    const outcomes = await whileHeld((held) => held`select id from users where id = ${p.user.id} for update`, [
      () => setUserStatus(systemCtx, p.user.id, "suspended").then(() => "suspended"),
      () => changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW }).then(() => "changed"),
    ]);
    expect(outcomes).toEqual(["suspended", "Your session has ended. Sign in again."]);
    await setUserStatus(systemCtx, p.user.id, "active");
    expect(await signInWithPassword("dev", { email: p.email, password: GOOD }, { ip: freshIp() })).toMatchObject({ ok: true });
  });

  it("asks a user with a second factor to have proven it in this session: a password alone does not change the account everywhere", async () => {
    const p = await person();
    const ctx = { actor: { type: "end_user" as const, id: p.user.id, label: p.email, environmentIds: [f.envs.dev.id] }, requestId: "test" };
    const { factorId, secret } = await startTotpEnrolment(ctx);
    await confirmTotpEnrolment(ctx, { factorId, code: await generate({ secret }), name: "Phone" });
    // DEV asks for no second factor: the session is a password alone.
    const refusal = "Sign in again with your second factor first: this changes your account in every environment.";
    await expect(changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW })).rejects.toThrow(refusal);
    await expect(signOutOtherSessions("dev", p.dev[0])).rejects.toThrow(refusal);
    expect(await live("test", p.test)).toBe(true);
    // A session that proved the factor may.
    const { token } = await inTransaction((tx) => createEndUserSession(tx, { userId: p.user.id, environmentId: f.envs.dev.id, method: "password", secondFactor: "totp" }));
    expect(await changeOwnPassword("dev", token, { current: GOOD, password: NEW, confirm: NEW })).toMatchObject({ sessionsEnded: 2 });
  });

  it("refuses a weak, mismatched or unchanged password and an empty current one as field errors, counting and writing nothing", async () => {
    const p = await person();
    const before = await rowOf(p.user.id);
    const audits = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events`))[0]!.n;
    for (const [input, field, message] of [
      [{ current: GOOD, password: "short", confirm: "short" }, "password", /12 characters/],
      [{ current: GOOD, password: NEW, confirm: "something else entirely" }, "confirm", /^The passwords do not match\.$/],
      [{ current: GOOD, password: GOOD, confirm: GOOD }, "password", /^Choose a password other than your current one\.$/],
      [{ current: "", password: NEW, confirm: NEW }, "current", /^Enter your current password\.$/],
      [{ current: GOOD, password: 12, confirm: 12 }, "password", /^Enter a password\.$/],
    ] as const) {
      const error = (await changeOwnPassword("dev", p.dev[0], input).catch((e: unknown) => e)) as { fieldErrors?: Record<string, string[]> };
      expect(error.fieldErrors?.[field]?.[0]).toMatch(message);
    }
    expect(await rowOf(p.user.id)).toMatchObject({ passwordHash: before.passwordHash, failedSignIns: before.failedSignIns });
    expect((await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events`))[0]!.n).toBe(audits);
  });

  it("needs a live session (401 with the reason), and is not offered where the password is not used: no password, or SSO enforced here", async () => {
    const p = await person();
    await expect(changeOwnPassword("dev", "no-such-session", { current: GOOD, password: NEW, confirm: NEW })).rejects.toMatchObject({ status: 401, message: "Your session has ended. Sign in again." });
    await expect(changeOwnPassword("test", p.dev[0], { current: GOOD, password: NEW, confirm: NEW })).rejects.toMatchObject({ status: 401 });
    // PROD enforces SSO for everyone (the fixture): a session there (opened by SSO) cannot change the password.
    const prod = await createUser(systemCtx, { name: "Sam Sso", email: `sso-${crypto.randomUUID().slice(0, 8)}@example.com`, environmentIds: [f.envs.prod.id] });
    const { token } = await inTransaction((tx) => createEndUserSession(tx, { userId: prod.id, environmentId: f.envs.prod.id, method: "sso", identityProviderId: f.idp.id }));
    const current = (await readEndUserSession("prod", token))!;
    expect(await endUserPasswordRefusal(current)).toBe("You have no password: you sign in through single sign-on.");
    await getDb().execute(sql`update users set password_hash = ${(await rowOf(p.user.id)).passwordHash} where id = ${prod.id}`);
    const withPassword = (await readEndUserSession("prod", token))!;
    expect(await endUserPasswordRefusal(withPassword)).toBe("You sign in here through single sign-on, so your password is not used here.");
    await expect(changeOwnPassword("prod", token, { current: GOOD, password: NEW, confirm: NEW })).rejects.toThrow("You sign in here through single sign-on, so your password is not used here.");
  });
});

describe("an app's grant outlives its session's end, not a sign-out", () => {
  it("ends when the user changes their password or signs out everywhere else, however long ago the app was connected", async () => {
    const tools = await createResource(systemCtx, { environmentId: f.envs.dev.id, feature: "mcp", name: `Tools ${n}` });
    for (const act of ["change", "sign out others"] as const) {
      const p = await person(2);
      // An app connected from the second session, whose own 12 hours ran out long ago (its grant lives 90 days).
      const [old] = await getDb().execute<{ id: string }>(sql`select id from sessions where user_id = ${p.user.id} and environment_id = ${f.envs.dev.id} order by created_at desc limit 1`);
      const grantId = `grant-${crypto.randomUUID()}`;
      await getDb().execute(sql`insert into oauth_consents (environment_id, user_id, client_id, client_name, resource_id, grant_id, session_id) values (${f.envs.dev.id}, ${p.user.id}, 'cli', 'CLI', ${tools.id}, ${grantId}, ${old!.id})`);
      await getDb().execute(sql`update sessions set expires_at = now() - interval '1 day' where id = ${old!.id}`);
      expect(await consentIsLive(f.envs.dev.id, grantId)).toBe(true);
      const ended = act === "change" ? await changeOwnPassword("dev", p.dev[0], { current: GOOD, password: NEW, confirm: NEW }) : await signOutOtherSessions("dev", p.dev[0]);
      expect(await consentIsLive(f.envs.dev.id, grantId)).toBe(false);
      // Counted among the sessions ended: only the one still open (TEST's).
      expect(ended.sessionsEnded).toBe(1);
    }
  });
});

describe("an end user signs out everywhere else", () => {
  it("ends every other session, in every environment, keeps this one, and audits how many", async () => {
    const p = await person(2);
    const other = await person(1);
    expect(await signOutOtherSessions("dev", p.dev[0], { ip: "203.0.113.6" })).toEqual({ sessionsEnded: 2 });
    expect(await live("dev", p.dev[0]!)).toBe(true);
    expect(await live("dev", p.dev[1]!)).toBe(false);
    expect(await live("test", p.test)).toBe(false);
    expect(await live("dev", other.dev[0]!)).toBe(true);
    expect(await signOutOtherSessions("dev", p.dev[0])).toEqual({ sessionsEnded: 0 });
    expect(await auditOf(p.user.id, "end_user.sign_out_others")).toMatchObject([{ after: { sessionsEnded: 2 } }, { after: { sessionsEnded: 0 } }]);
    await expect(signOutOtherSessions("dev", p.dev[1])).rejects.toMatchObject({ status: 401, message: "Your session has ended. Sign in again." });
  });
});
