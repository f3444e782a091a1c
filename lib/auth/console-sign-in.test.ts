import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { parseOptions } from "@node-rs/argon2";
import { encode } from "next-auth/jwt";
import { getDb } from "@/db/client";
import { consoleMembers, consoleSessions } from "@/db/schema";
import { systemCtx } from "@/test-support/fixtures";
import { createConsoleMember } from "@/lib/console-members";
import { endConsoleSession, signInConsoleMember } from "./console-sign-in";
import { readConsoleSession } from "./session";
import { changeOwnConsolePassword } from "@/lib/console-members/own-account";
import { generate } from "otplib";
import { confirmTotpEnrolment, startTotpEnrolment } from "@/lib/second-factor";

const password = "a long and unguessable passphrase";

async function member(email: string) {
  return createConsoleMember(systemCtx, { email, name: "Member", role: "admin", password });
}

async function cookieFor(sid: string) {
  return encode({ token: { sid }, secret: process.env.NEXTAUTH_SECRET! });
}

describe("console sign-in", () => {
  it("stores argon2id at m=19 MiB, t=2 and never the password", async () => {
    const m = await member("hash@example.com");
    const params = parseOptions(m.passwordHash!);
    expect(m.passwordHash!.startsWith("$argon2id$")).toBe(true);
    expect(params).toMatchObject({ memoryCost: 19456, timeCost: 2 });
    expect(m.passwordHash).not.toContain(password);
    const [audit] = await getDb().execute<{ after: Record<string, unknown> }>(sql`select after from audit_events where action = 'console_member.create' and target_id = ${m.id}`);
    expect(JSON.stringify(audit!.after)).not.toContain("argon2");
  });

  it("audits a refused sign-in whose unknown email is cut inside an emoji (U+FFFD in the label)", async () => {
    const email = `${"a".repeat(319)}😀@example.com`;
    expect(await signInConsoleMember({ email, password, ip: "198.51.100.9" })).toMatchObject({ ok: false, reason: "invalid" });
    const rows = await getDb().execute<{ target_label: string; reason: string }>(sql`select target_label, reason from audit_events where action = 'console.sign_in' and ip = '198.51.100.9'`);
    expect(rows.map((r) => ({ ...r }))).toEqual([{ target_label: `${"a".repeat(319)}\uFFFD`, reason: "unknown email" }]);
  });

  it("opens a session for the right password (email case-insensitive) and audits it", async () => {
    const m = await member("ok@example.com");
    const result = await signInConsoleMember({ email: "OK@example.com", password, ip: "198.51.100.7" });
    expect(result.ok).toBe(true);
    const session = await readConsoleSession(await cookieFor(result.ok ? result.sessionId : ""));
    expect(session?.member).toMatchObject({ id: m.id, role: "admin", email: "ok@example.com" });
    const [row] = await getDb().execute<{ outcome: string; ip: string }>(sql`select outcome, ip from audit_events where action = 'console.sign_in' and target_id = ${m.id}`);
    expect(row).toEqual({ outcome: "success", ip: "198.51.100.7" });
  });

  it("answers a wrong password and an unknown email alike, and audits both with the real reason", async () => {
    await member("wrong@example.com");
    expect(await signInConsoleMember({ email: "wrong@example.com", password: "nope" })).toEqual({ ok: false, reason: "invalid" });
    expect(await signInConsoleMember({ email: "nobody@example.com", password: "nope" })).toEqual({ ok: false, reason: "invalid" });
    const rows = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console.sign_in' and outcome = 'failure' order by id desc limit 2`);
    expect(rows.map((r) => r.reason)).toEqual(["unknown email", "wrong password"]);
  });

  it("locks the account after 10 failures, even for the right password, until the lock expires", async () => {
    const m = await member("lock@example.com");
    for (let i = 0; i < 10; i++) await signInConsoleMember({ email: "lock@example.com", password: "bad" });
    expect(await signInConsoleMember({ email: "lock@example.com", password })).toEqual({ ok: false, reason: "locked" });
    await getDb().update(consoleMembers).set({ lockedUntil: sql`now() - interval '1 second'` }).where(eq(consoleMembers.id, m.id));
    const after = await signInConsoleMember({ email: "lock@example.com", password });
    expect(after.ok).toBe(true);
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, m.id));
    expect(row!.failedSignIns).toBe(0);
  });

  it("answers an email with a NUL as an unknown one (audited), where the query failed and the error page showed the SQL", async () => {
    const result = await signInConsoleMember({ email: "own\0er@example.com", password: "whatever" });
    expect(result).toEqual({ ok: false, reason: "invalid" });
    const [row] = await getDb().execute<{ target_label: string; reason: string }>(sql`select target_label, reason from audit_events where action = 'console.sign_in' order by id desc limit 1`);
    expect(row).toEqual({ target_label: "own\uFFFDer@example.com", reason: "unknown email" });
  });

  it("starts the count again when a lock has run out: one wrong password after it is not a new lock", async () => {
    const m = await member("relock@example.com");
    for (let i = 0; i < 10; i++) await signInConsoleMember({ email: "relock@example.com", password: "bad" });
    await getDb().update(consoleMembers).set({ lockedUntil: sql`now() - interval '1 second'` }).where(eq(consoleMembers.id, m.id));
    expect(await signInConsoleMember({ email: "relock@example.com", password: "bad" })).toEqual({ ok: false, reason: "invalid" });
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, m.id));
    expect([row!.failedSignIns, row!.lockedUntil]).toEqual([1, null]);
    expect((await signInConsoleMember({ email: "relock@example.com", password })).ok).toBe(true);
  });

  it("ignores a session that is signed out, expired, idle or of a suspended member, and a forged cookie", async () => {
    await member("sess@example.com");
    const open = async () => {
      const r = await signInConsoleMember({ email: "sess@example.com", password });
      if (!r.ok) throw new Error("sign-in failed");
      return r.sessionId;
    };
    const signedOut = await open();
    await endConsoleSession(signedOut);
    expect(await readConsoleSession(await cookieFor(signedOut))).toBeNull();

    const expired = await open();
    await getDb().update(consoleSessions).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(consoleSessions.id, expired));
    expect(await readConsoleSession(await cookieFor(expired))).toBeNull();

    const idle = await open();
    await getDb().update(consoleSessions).set({ lastSeenAt: sql`now() - interval '3 hours'` }).where(eq(consoleSessions.id, idle));
    expect(await readConsoleSession(await cookieFor(idle))).toBeNull();

    const forged = await encode({ token: { sid: await open() }, secret: "another-secret-another-secret-another" });
    expect(await readConsoleSession(forged)).toBeNull();
    expect(await readConsoleSession("not-a-jwt")).toBeNull();

    const live = await open();
    expect(await readConsoleSession(await cookieFor(live))).not.toBeNull();
    await getDb().update(consoleMembers).set({ status: "suspended" }).where(sql`lower(email) = 'sess@example.com'`);
    expect(await readConsoleSession(await cookieFor(live))).toBeNull();
  });

  it("keeps a member's own address open while someone elsewhere guesses: the lockout holds elsewhere, not where they signed in before", async () => {
    const m = await member("owner-home@example.com");
    const home = "198.51.100.40";
    expect((await signInConsoleMember({ email: "owner-home@example.com", password, ip: home })).ok).toBe(true);
    // Ten wrong guesses from two other addresses lock the member...
    for (let i = 0; i < 10; i++) await signInConsoleMember({ email: "owner-home@example.com", password: "guess", ip: `203.0.113.${40 + (i % 2)}` });
    expect(await signInConsoleMember({ email: "owner-home@example.com", password, ip: "203.0.113.99" })).toEqual({ ok: false, reason: "locked" });
    // ...but not from the address they signed in from: the right password opens a session there, and clears the lock.
    expect((await signInConsoleMember({ email: "owner-home@example.com", password, ip: home })).ok).toBe(true);
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, m.id));
    expect([row!.failedSignIns, row!.lockedUntil]).toEqual([0, null]);
  });

  it("holds the member's own address back by its own count: wrong guesses there do not lock the member elsewhere", async () => {
    const m = await member("pair@example.com");
    const home = "198.51.100.41";
    expect((await signInConsoleMember({ email: "pair@example.com", password, ip: home })).ok).toBe(true);
    for (let i = 0; i < 10; i++) expect(await signInConsoleMember({ email: "pair@example.com", password: "guess", ip: home })).toEqual({ ok: false, reason: "invalid" });
    expect(await signInConsoleMember({ email: "pair@example.com", password, ip: home })).toEqual({ ok: false, reason: "locked" });
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, m.id));
    expect(row!.failedSignIns).toBe(0);
    expect((await signInConsoleMember({ email: "pair@example.com", password, ip: "198.51.100.42" })).ok).toBe(true);
    const [audit] = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console.sign_in' and target_id = ${m.id} and outcome = 'failure' order by id desc limit 1`);
    expect(audit!.reason).toBe("too many failures from the member's own address");
  });

  it("limits one address's failures across members (spraying one password), and gives a right password's attempt back", async () => {
    const sprayer = "203.0.113.77";
    for (let i = 0; i < 6; i++) await member(`spray${i}@example.com`);
    // Right passwords from the address do not count toward its failures.
    for (let i = 0; i < 6; i++) expect((await signInConsoleMember({ email: `spray${i}@example.com`, password, ip: "203.0.113.78" })).ok).toBe(true);
    for (let i = 0; i < 20; i++) expect(await signInConsoleMember({ email: `spray${i % 6}@example.com`, password: "Summer2026!", ip: sprayer })).toEqual({ ok: false, reason: "invalid" });
    const before = await getDb().execute(sql`select count(*)::int as n from audit_events`);
    expect(await signInConsoleMember({ email: "spray0@example.com", password, ip: sprayer })).toEqual({ ok: false, reason: "throttled" });
    // Refused before anything is judged: nothing more is counted against the members or audited.
    expect(await getDb().execute(sql`select count(*)::int as n from audit_events`)).toEqual(before);
    expect((await signInConsoleMember({ email: "spray0@example.com", password, ip: "203.0.113.78" })).ok).toBe(true);
  });

  it("limits one address to 30 attempts a minute, right or wrong", async () => {
    await member("busy@example.com");
    const busy = "203.0.113.90";
    for (let i = 0; i < 30; i++) expect((await signInConsoleMember({ email: "busy@example.com", password, ip: busy })).ok).toBe(true);
    expect(await signInConsoleMember({ email: "busy@example.com", password, ip: busy })).toEqual({ ok: false, reason: "throttled" });
  });

  it("tells a right guess from a wrong one by no counter while the member is locked (a right password gave the address's attempt back)", async () => {
    await member("oracle@example.com");
    for (let i = 0; i < 10; i++) await signInConsoleMember({ email: "oracle@example.com", password: "bad", ip: `203.0.113.${120 + i}` });
    const probe = async (ip: string, guess: string) => {
      for (let i = 0; i < 18; i++) await signInConsoleMember({ email: `nobody${i}@example.com`, password: "x", ip });
      // The guess, then two attempts of someone else from the address: what they are told.
      const answers = [await signInConsoleMember({ email: "oracle@example.com", password: guess, ip })];
      for (let i = 0; i < 2; i++) answers.push(await signInConsoleMember({ email: `later${i}@example.com`, password: "x", ip }));
      return answers;
    };
    const right = await probe("203.0.113.150", password);
    const wrong = await probe("203.0.113.151", "not it");
    expect(right).toEqual([{ ok: false, reason: "locked" }, { ok: false, reason: "invalid" }, { ok: false, reason: "throttled" }]);
    expect(right).toEqual(wrong);
    expect(await signInConsoleMember({ email: "oracle@example.com", password, ip: "203.0.113.150" })).toEqual({ ok: false, reason: "throttled" });
  });

  it("counts guesses sent at once before judging them: no more than the threshold are judged, the rest meet the lock", async () => {
    const m = await member("burst@example.com");
    const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => signInConsoleMember({ email: "burst@example.com", password: "bad", ip: `198.51.100.${150 + i}` })));
    expect(answers.filter((a) => !a.ok && a.reason === "invalid")).toHaveLength(10);
    expect(answers.filter((a) => !a.ok && a.reason === "locked")).toHaveLength(14);
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, m.id));
    expect(row!.failedSignIns).toBe(10);
  });

  it("forgets the member's own addresses when they change or reset their password: an intruder's address is no longer exempt from the lock", async () => {
    const m = await member("recovered@example.com");
    const intruder = "203.0.113.160";
    const stolen = await signInConsoleMember({ email: "recovered@example.com", password, ip: intruder });
    if (!stolen.ok) throw new Error("sign-in failed");
    // The member recovers from their own browser: the password changed on the Security page.
    const own = await signInConsoleMember({ email: "recovered@example.com", password, ip: "198.51.100.161" });
    if (!own.ok) throw new Error("sign-in failed");
    const renewed = "another long pass phrase, changed";
    await changeOwnConsolePassword({ actor: { type: "console_member", id: m.id, label: m.email, role: "admin", environmentIds: [] }, requestId: "test", sessionId: own.sessionId }, { current: password, password: renewed, confirm: renewed });
    for (let i = 0; i < 10; i++) await signInConsoleMember({ email: "recovered@example.com", password: "bad", ip: `203.0.113.${170 + i}` });
    expect(await signInConsoleMember({ email: "recovered@example.com", password: renewed, ip: intruder })).toEqual({ ok: false, reason: "locked" });
    // The member's own browser stays theirs: its session was opened again at the change.
    expect((await signInConsoleMember({ email: "recovered@example.com", password: renewed, ip: "198.51.100.161" })).ok).toBe(true);
  });

  it("counts only failures against the member's own address: a member with a second factor passes the password step again and again", async () => {
    const m = await member("twostep@example.com");
    const ctx = { actor: { type: "console_member" as const, id: m.id, label: m.email, role: "admin" as const, environmentIds: [] }, requestId: "test" };
    const { factorId, secret } = await startTotpEnrolment(ctx);
    await confirmTotpEnrolment(ctx, { factorId, code: await generate({ secret }), name: "Phone" });
    const home = "198.51.100.190";
    expect(await signInConsoleMember({ email: "twostep@example.com", password, ip: home, code: await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }) })).toMatchObject({ ok: true });
    for (let i = 0; i < 12; i++) expect(await signInConsoleMember({ email: "twostep@example.com", password, ip: home })).toMatchObject({ ok: false, reason: "second_factor_required" });
    const [row] = await getDb().execute<{ count: number }>(sql`select count from rate_limits where key = ${`console-pair:${m.id}:${home}`}`);
    expect(row!.count).toBe(0);
  });

  it("counts an IPv6 client by its /64: rotating through one network's addresses does not escape the address limit", async () => {
    await member("v6@example.com");
    for (let i = 0; i < 20; i++) expect(await signInConsoleMember({ email: "v6@example.com", password: "bad", ip: `2001:db8:77:1::${(i + 1).toString(16)}` })).toMatchObject({ ok: false });
    expect(await signInConsoleMember({ email: "v6@example.com", password, ip: "2001:db8:77:1:dead:beef:1:2" })).toEqual({ ok: false, reason: "throttled" });
    expect(await signInConsoleMember({ email: "nobody-v6@example.com", password, ip: "2001:db8:77:2::1" })).toEqual({ ok: false, reason: "invalid" });
  });
});
