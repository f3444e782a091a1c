import { beforeAll, describe, expect, it, vi } from "vitest";
import { desc, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, emailOutbox, passwordTokens, sessions, users, type Environment } from "@/db/schema";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { ARGON2_PARAMS } from "@/lib/auth/password";
import { RateLimitedError, ValidationError } from "@/lib/errors";
import { createUser } from "@/lib/users";
import { INVALID_CREDENTIALS, requestPasswordReset, sendInvitation, setPasswordWithLink, signInWithPassword, unlockWithLink } from "./password-accounts";
import { readEndUserSession } from "./sessions";

// Every argon2 verification the code makes, with the hash it verified against (the same work for
// unknown emails as for wrong passwords is checked by counting, not by timing).
const argon2 = vi.hoisted(() => ({ verified: [] as string[] }));
vi.mock("@node-rs/argon2", async (importOriginal) => {
  const real = await importOriginal<typeof import("@node-rs/argon2")>();
  return { ...real, verify: (hashed: string, ...rest: unknown[]) => (argon2.verified.push(hashed), (real.verify as (...a: unknown[]) => Promise<boolean>)(hashed, ...rest)) };
});

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const GOOD = "correct horse battery staple";
let ipCounter = 0;
const freshIp = () => `198.51.100.${++ipCounter}`;

/** The link in the last mail to `to` (the outbox holds mail when SMTP_URL is unset). */
async function lastLink(to: string, kind: "invite" | "reset" | "unlock"): Promise<string> {
  const [mail] = await getDb().select().from(emailOutbox).where(eq(emailOutbox.to, to)).orderBy(desc(emailOutbox.createdAt)).limit(1);
  const match = mail?.body.match(new RegExp(`/e/[a-z]+/${kind}/([A-Za-z0-9_-]+)`));
  if (!match) throw new Error(`no ${kind} link mailed to ${to}`);
  return match[1]!;
}

async function invitedUser(email: string) {
  const user = await createUser(systemCtx, { name: "Pat Example", email, status: "invited", environmentIds: [env.dev.id] });
  await sendInvitation(systemCtx, { userId: user.id, environmentId: env.dev.id });
  return { user, token: await lastLink(email, "invite") };
}

describe("invitations", () => {
  it("sets a password once, activates the user and signs them in; the link then stops working", async () => {
    const { user, token } = await invitedUser("invitee@example.com");
    const result = await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
    expect(result.token).toBeTruthy();
    expect(await readEndUserSession("dev", result.token!)).not.toBeNull();
    const [row] = await getDb().select().from(users).where(eq(users.id, user.id));
    expect(row!.status).toBe("active");
    // The stored hash carries our argon2id parameters (ASVS floor: m=19 MiB, t=2, p=1).
    expect(row!.passwordHash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}\\$`));
    await expect(setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD })).rejects.toThrow(/already used or has expired/);
  });

  it("refuses an expired invitation", async () => {
    const { token } = await invitedUser("late@example.com");
    await getDb().update(passwordTokens).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(passwordTokens.purpose, "invite"));
    await expect(setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD })).rejects.toThrow(/already used or has expired/);
  });

  it("refuses weak and common passwords with the reason, and writes nothing", async () => {
    const { user, token } = await invitedUser("weak@example.com");
    for (const [password, reason] of [
      ["short", /at least 12 characters/],
      ["password1234", /most common passwords/],
      ["weak@example.com1", /too easy to guess/],
    ] as const) {
      const error = await setPasswordWithLink("invite", "dev", { token, password, confirm: password }).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).fieldErrors?.password?.[0]).toMatch(reason);
    }
    const [row] = await getDb().select().from(users).where(eq(users.id, user.id));
    expect(row!.passwordHash).toBeNull();
    // The link survived the failed attempts.
    expect((await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD })).token).toBeTruthy();
  });
});

describe("password sign-in", () => {
  let email: string;
  beforeAll(async () => {
    email = "signer@example.com";
    const { token } = await invitedUser(email);
    await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
  });

  it("signs in with the right password", async () => {
    const result = await signInWithPassword("dev", { email: "Signer@Example.com", password: GOOD }, { ip: freshIp() });
    expect(result.ok).toBe(true);
  });

  it("gives unknown emails, wrong passwords and no-access users the same answer", async () => {
    const unknown = await signInWithPassword("dev", { email: "nobody@example.com", password: GOOD }, { ip: freshIp() });
    const wrong = await signInWithPassword("dev", { email, password: "not the password at all" }, { ip: freshIp() });
    const noAccess = await signInWithPassword("prod", { email, password: GOOD }, { ip: freshIp() });
    expect(unknown).toEqual({ ok: false, message: INVALID_CREDENTIALS });
    expect(wrong).toEqual(unknown);
    expect(noAccess).toEqual(unknown);
  });

  it("spends the same argon2 work on unknown emails as on wrong passwords", async () => {
    const params = (hashed: string) => hashed.split("$").slice(1, 4).join("$"); // argon2id$v=19$m=…,t=…,p=…
    const verifiedBy = async (address: string) => {
      argon2.verified.length = 0;
      await signInWithPassword("dev", { email: address, password: "wrong password again" }, { ip: freshIp() });
      return argon2.verified.map(params);
    };
    await getDb().update(users).set({ failedSignIns: 0 }).where(eq(users.email, email));
    const known = await verifiedBy(email);
    const unknown = await verifiedBy("ghost@example.com");
    await getDb().update(users).set({ failedSignIns: 0, lockedUntil: null }).where(eq(users.email, email));
    // One argon2id verification each, at the same cost parameters (a skipped hash would show as none).
    expect(known).toEqual([`argon2id$v=19$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}`]);
    expect(unknown).toEqual(known);
  });

  it("locks after repeated failures (same answer while locked), mails an unlock link that works once", async () => {
    const lockEmail = "locky@example.com";
    const { token } = await invitedUser(lockEmail);
    await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
    for (let i = 0; i < 10; i++) await signInWithPassword("dev", { email: lockEmail, password: `wrong ${i} password` }, { ip: freshIp() });
    const [row] = await getDb().select().from(users).where(eq(users.email, lockEmail));
    expect(row!.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    // Even the right password is refused while locked, with the same answer as any failure.
    expect(await signInWithPassword("dev", { email: lockEmail, password: GOOD }, { ip: freshIp() })).toEqual({ ok: false, message: INVALID_CREDENTIALS });
    const unlock = await lastLink(lockEmail, "unlock");
    expect(await unlockWithLink("dev", unlock)).toBe(true);
    expect(await unlockWithLink("dev", unlock)).toBe(false);
    expect((await signInWithPassword("dev", { email: lockEmail, password: GOOD }, { ip: freshIp() })).ok).toBe(true);
  });

  it("unlocks by time", async () => {
    await getDb().update(users).set({ lockedUntil: sql`now() - interval '1 second'`, failedSignIns: 10 }).where(eq(users.email, email));
    expect((await signInWithPassword("dev", { email, password: GOOD }, { ip: freshIp() })).ok).toBe(true);
  });

  it("throttles one IP in Postgres with Retry-After", async () => {
    const ip = freshIp();
    let error: unknown;
    for (let i = 0; i < 31 && !error; i++) {
      error = await signInWithPassword("dev", { email: `x${i}@example.com`, password: "whatever password" }, { ip }).then(() => undefined, (e) => e);
    }
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).retryAfterSeconds).toBeGreaterThan(0);
  });
});

describe("brute force: per address, per account and per (account, address) together", () => {
  const signIn = (email: string, password: string, ip: string) =>
    signInWithPassword("dev", { email, password }, { ip }).then(
      (r) => (r.ok ? "signed in" : r.message === INVALID_CREDENTIALS ? "refused" : r.message),
      (e: unknown) => (e instanceof RateLimitedError && e.retryAfterSeconds > 0 ? e.code : `threw ${String(e)}`),
    );
  const lockedMinutes = async (email: string) => {
    const [row] = await getDb().select({ lockedUntil: users.lockedUntil }).from(users).where(eq(users.email, email));
    return row!.lockedUntil ? Math.round((row!.lockedUntil.getTime() - Date.now()) / 60_000) : null;
  };
  /** The lockout's time has come (instead of waiting for it). */
  const expireLockout = (email: string) => getDb().update(users).set({ lockedUntil: sql`now() - interval '1 second'` }).where(eq(users.email, email));
  const lastSignInReason = async (email: string) =>
    (await getDb().select({ reason: auditEvents.reason }).from(auditEvents).where(sql`${auditEvents.action} = 'end_user.sign_in' and ${auditEvents.targetLabel} = ${email}`).orderBy(desc(auditEvents.id)).limit(1))[0]?.reason;

  async function account(email: string) {
    const { token } = await invitedUser(email);
    await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
  }

  it("spraying one password over 30 accounts from one address is refused after 20 failures, right passwords included", async () => {
    const emails = Array.from({ length: 30 }, (_, i) => `spray-${i}@example.com`);
    for (const email of emails.slice(0, 3)) await account(email);
    const attacker = "203.0.113.66";
    const answers = [];
    for (const email of emails) answers.push(await signIn(email, "Summer2024!Summer2024!", attacker));
    expect(answers).toEqual([...Array(20).fill("refused"), ...Array(10).fill("rate_limited")]);
    // From that address even a right password is refused now (the spray cannot land a hit)…
    expect(await signIn(emails[0]!, GOOD, attacker)).toBe("rate_limited");
    // …while the accounts themselves are not locked (one failure each), and work from elsewhere.
    expect(await lockedMinutes(emails[1]!)).toBeNull();
    expect(await signIn(emails[1]!, GOOD, freshIp())).toBe("signed in");
  });

  it("counts an IPv6 client by its /64: spraying from one network's many addresses is refused after 20 failures as from one address", async () => {
    const emails = Array.from({ length: 22 }, (_, i) => `spray6-${i}@example.com`);
    const answers = [];
    for (const [i, email] of emails.entries()) answers.push(await signIn(email, "Summer2024!Summer2024!", `2001:db8:66:1::${(i + 1).toString(16)}`));
    expect(answers).toEqual([...Array(20).fill("refused"), ...Array(2).fill("rate_limited")]);
    expect(await signIn(emails[0]!, "Summer2024!Summer2024!", "2001:db8:66:2::1")).toBe("refused");
  });

  it("guesses sent in parallel from many addresses: exactly the threshold are judged, the rest meet the lockout, and each lockout mails a link as long as it lasts", async () => {
    const target = "parallel@example.com";
    await account(target);
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => signIn(target, `parallel guess ${i}`, `203.0.113.${100 + i}`)));
    expect(answers).toEqual(Array(30).fill("refused"));
    const reasons = await getDb()
      .select({ reason: auditEvents.reason })
      .from(auditEvents)
      .where(sql`${auditEvents.action} = 'end_user.sign_in' and ${auditEvents.targetLabel} = ${target}`);
    const tally = (r: string) => reasons.filter((x) => x.reason === r).length;
    expect({ judged: tally("wrong password") + tally("wrong password; account locked"), locked: tally("account locked"), armed: tally("wrong password; account locked") }).toEqual({ judged: 10, locked: 20, armed: 1 });
    expect(await signIn(target, GOOD, freshIp())).toBe("refused");
    expect(await lastSignInReason(target)).toBe("account locked");
    // The next lockout (once this one has ended) lasts 30 minutes, and its mail says so.
    await expireLockout(target);
    expect(await signIn(target, "one more guess", freshIp())).toBe("refused");
    expect(await lockedMinutes(target)).toBe(30);
    const [mail] = await getDb().select({ text: emailOutbox.body }).from(emailOutbox).where(eq(emailOutbox.to, target)).orderBy(desc(emailOutbox.createdAt)).limit(1);
    expect(mail!.text).toMatch(/paused for 30 minutes/);
  });

  it("successes give their attempt back: an address whose users sign in is not throttled", async () => {
    await account("office@example.com");
    const office = "203.0.113.80";
    const answers = [];
    for (let i = 0; i < 25; i++) answers.push(await signIn("office@example.com", GOOD, office));
    expect(answers).toEqual(Array(25).fill("signed in"));
  });

  it("an attacker elsewhere who knows only the email delays the owner on new addresses, never locks them out of their own, and every lockout ends", async () => {
    const victim = "victim@example.com";
    await account(victim);
    const home = "198.51.100.200";
    expect(await signIn(victim, GOOD, home)).toBe("signed in"); // the victim's own address from now on
    // An attacker on ten addresses: ten failures in a row lock the account for 15 minutes.
    for (let i = 0; i < 10; i++) expect(await signIn(victim, `guess number ${i}`, `192.0.2.${i + 1}`)).toBe("refused");
    expect(await lockedMinutes(victim)).toBe(15);
    // From a new address the owner waits (the same answer as any failure; the trail says why)…
    expect(await signIn(victim, GOOD, freshIp())).toBe("refused");
    expect(await lastSignInReason(victim)).toBe("account locked");
    // …from their own address they sign in at once, through the (account, address) rule.
    expect(await signIn(victim, GOOD, home)).toBe("signed in");

    // The attacker again: locked again; each further failure once the lockout has ended doubles it.
    for (let i = 0; i < 10; i++) await signIn(victim, `second round ${i}`, `192.0.2.${i + 20}`);
    expect(await lockedMinutes(victim)).toBe(15);
    // While locked, guesses are refused without counting (the lockout is not extended by them).
    expect(await signIn(victim, "during the lockout", "192.0.2.40")).toBe("refused");
    expect(await lockedMinutes(victim)).toBe(15);
    await expireLockout(victim);
    expect(await signIn(victim, "after the lockout", "192.0.2.41")).toBe("refused");
    expect(await lockedMinutes(victim)).toBe(30);
    await expireLockout(victim);
    await signIn(victim, "and again", "192.0.2.42");
    expect(await lockedMinutes(victim)).toBe(60);
    // However long the attack, a lockout lasts at most a day: it delays, it never denies for good.
    await getDb().update(users).set({ failedSignIns: 5000, lockedUntil: sql`now() - interval '1 second'` }).where(eq(users.email, victim));
    await signIn(victim, "a long attack", "192.0.2.43");
    expect(await lockedMinutes(victim)).toBe(24 * 60);
    expect(await signIn(victim, GOOD, home)).toBe("signed in");
    // And once it has ended, the owner signs in from anywhere.
    for (let i = 0; i < 10; i++) await signIn(victim, `third round ${i}`, `192.0.2.${i + 50}`);
    expect(await signIn(victim, GOOD, "198.51.100.201")).toBe("refused");
    await expireLockout(victim);
    expect(await signIn(victim, GOOD, "198.51.100.201")).toBe("signed in");
  });

  it("forgets the addresses known before a reset: an intruder's address gets no pass through the owner's lockout", async () => {
    const owner = "recovered@example.com";
    await account(owner);
    const intruder = "192.0.2.200";
    expect(await signIn(owner, GOOD, intruder)).toBe("signed in"); // the stolen password, used
    await requestPasswordReset("dev", owner);
    const next = "a brand new passphrase for this";
    await setPasswordWithLink("reset", "dev", { token: await lastLink(owner, "reset"), password: next, confirm: next });
    for (let i = 0; i < 10; i++) await signIn(owner, `wrong guess ${i}`, `198.51.100.${i + 120}`);
    expect(await lockedMinutes(owner)).toBe(15);
    // The intruder's address is no longer the account's own: the lockout holds it back like any other.
    expect(await signIn(owner, next, intruder)).toBe("refused");
    expect(await lastSignInReason(owner)).toBe("account locked");
  });

  it("the owner's own address is no free pass: its own failures hold it back", async () => {
    const owner = "shared-address@example.com";
    await account(owner);
    const home = "198.51.100.210";
    expect(await signIn(owner, GOOD, home)).toBe("signed in");
    for (let i = 0; i < 10; i++) expect(await signIn(owner, `guess from the same address ${i}`, home)).toBe("refused");
    expect(await signIn(owner, GOOD, home)).toBe("refused");
    expect(await lastSignInReason(owner)).toBe("too many failures from this address");
  });
});

describe("password reset", () => {
  it("sets the password but opens no session when the user lost the environment after the link was mailed", async () => {
    const email = "revoked.meanwhile@example.com";
    const { user, token } = await invitedUser(email);
    await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
    await requestPasswordReset("dev", email);
    const link = await lastLink(email, "reset");
    const { grantEnvironment, revokeEnvironment } = await import("@/lib/users");
    await grantEnvironment(systemCtx, { userId: user.id, environmentId: env.test.id });
    await revokeEnvironment(systemCtx, { userId: user.id, environmentId: env.dev.id });
    const sessionsBefore = await getDb().$count(sessions);
    const next = "another long passphrase here";
    expect(await setPasswordWithLink("reset", "dev", { token: link, password: next, confirm: next })).toMatchObject({ token: null });
    expect(await getDb().$count(sessions)).toBe(sessionsBefore);
    // The password is set all the same: it signs in where the user may still enter.
    expect((await signInWithPassword("test", { email, password: next }, { ip: "198.51.100.250" })).ok).toBe(true);
  });

  it("mails a one-hour link for a known user, nothing for an unknown one; the link works once and ends other sessions", async () => {
    const email = "resetter@example.com";
    const { token } = await invitedUser(email);
    const first = await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD });
    const outboxBefore = await getDb().$count(emailOutbox);
    await requestPasswordReset("dev", "unknown-person@example.com");
    expect(await getDb().$count(emailOutbox)).toBe(outboxBefore);
    await requestPasswordReset("dev", email);
    const link = await lastLink(email, "reset");
    const [row] = await getDb().select().from(passwordTokens).where(eq(passwordTokens.purpose, "reset")).orderBy(desc(passwordTokens.createdAt)).limit(1);
    const minutes = (row!.expiresAt.getTime() - row!.createdAt.getTime()) / 60_000;
    expect(minutes).toBeCloseTo(60, 0);
    const next = "another long passphrase here";
    const reset = await setPasswordWithLink("reset", "dev", { token: link, password: next, confirm: next });
    expect(reset.token).toBeTruthy();
    expect(await readEndUserSession("dev", first.token!)).toBeNull();
    expect(await readEndUserSession("dev", reset.token!)).not.toBeNull();
    await expect(setPasswordWithLink("reset", "dev", { token: link, password: next, confirm: next })).rejects.toThrow(/already used or has expired/);
  });
});
