import { beforeAll, describe, expect, it, vi } from "vitest";
import { and, desc, eq, isNull } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, emailOutbox, passwordTokens, users, type Environment } from "@/db/schema";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";
import { sendInvitation, setPasswordWithLink, signInWithPassword } from "@/lib/end-user/password-accounts";

// The end user's actions are public POST endpoints: any client can call them with any arguments,
// not only the page's forms. What a client sends wrong gets its reason, never a 500, and writes nothing.
vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/navigation", async (original) => ({ ...(await original<object>()), redirect: (to: string) => { throw new Error(`redirect ${to}`); } }));
vi.mock("next/server", async (original) => ({ ...(await original<object>()), after: (run: () => unknown) => void run() }));

const actions = await import("./actions");
const signIn = await import("@/app/sign-in/actions");
const invitation = await import("@/app/sign-in/invitation/[token]/actions");

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const GOOD = "correct horse battery staple";
const form = (fields: Record<string, string | Blob | (string | Blob)[]>) => {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) f.append(k, one);
  return f;
};

async function lastLink(to: string, kind: "invite" | "reset" | "unlock"): Promise<string> {
  const [mail] = await getDb().select().from(emailOutbox).where(eq(emailOutbox.to, to)).orderBy(desc(emailOutbox.createdAt)).limit(1);
  return mail!.body.match(new RegExp(`/e/[a-z]+/${kind}/([A-Za-z0-9_-]+)`))![1]!;
}

/** A user with a password, locked out: an unlock link is in their mail. */
async function lockedUser(email: string) {
  const user = await createUser(systemCtx, { name: "Pat Example", email, status: "invited", environmentIds: [env.dev.id] });
  await sendInvitation(systemCtx, { userId: user.id, environmentId: env.dev.id });
  await setPasswordWithLink("invite", "dev", { token: await lastLink(email, "invite"), password: GOOD, confirm: GOOD });
  for (let i = 0; i < 10; i++) await signInWithPassword("dev", { email, password: `wrong ${i} password` }, { ip: `192.0.2.${i + 1}` });
  return { user, unlock: await lastLink(email, "unlock") };
}

describe("end-user actions, called by any client", () => {
  it("an unlock link does not set a password (the page's purpose is a bound argument the client sends back): refused, the link still unlocks", async () => {
    const { user, unlock } = await lockedUser("locked-out@example.com");
    const [before] = await getDb().select({ hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    const answer = await actions.setPasswordAction("unlock" as "reset", "dev", unlock, null, form({ password: "a brand new passphrase here", confirm: "a brand new passphrase here" }));
    expect(answer).toEqual({ error: "This link does not set a password.", fieldErrors: { _form: ["This link does not set a password."] } });
    const [after] = await getDb().select({ hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    expect(after!.hash).toBe(before!.hash);
    expect(await getDb().select().from(passwordTokens).where(and(eq(passwordTokens.userId, user.id), eq(passwordTokens.purpose, "unlock"), isNull(passwordTokens.usedAt)))).toHaveLength(1);
    expect(await actions.unlockAction("dev", unlock, null)).toEqual({ done: true });
  });

  it("a file, a repeated field or a body that is no form gets a field error; nothing is stored as “[object File]”", async () => {
    const email = "filer@example.com";
    const user = await createUser(systemCtx, { name: "Pat Example", email, status: "invited", environmentIds: [env.dev.id] });
    await sendInvitation(systemCtx, { userId: user.id, environmentId: env.dev.id });
    const token = await lastLink(email, "invite");
    const file = new Blob(["x"]);
    expect(await actions.setPasswordAction("invite", "dev", token, null, form({ password: file, confirm: file }))).toEqual({ error: "This field takes text, not a file.", fieldErrors: { password: ["This field takes text, not a file."] } });
    expect(await actions.setPasswordAction("invite", "dev", token, null, form({ password: [GOOD, "other one entirely"], confirm: GOOD }))).toEqual({ error: "This field was sent more than once.", fieldErrors: { password: ["This field was sent more than once."] } });
    const noForm = { error: "This form could not be read: reload the page and send it again.", fieldErrors: {} };
    expect(await actions.setPasswordAction("invite", "dev", token, null, "x" as unknown as FormData)).toEqual(noForm);
    expect(await actions.passwordSignInAction("dev", null, "x" as unknown as FormData)).toEqual(noForm);
    expect(await actions.forgotPasswordAction("dev", null, "x" as unknown as FormData)).toEqual(noForm);
    expect(await actions.secondFactorSignInAction("dev", null, "x" as unknown as FormData)).toEqual(noForm);
    // The console invitation's page (no session either) reads its form the same way.
    expect(await invitation.acceptInvitationAction("A".repeat(43), null, "x" as unknown as FormData)).toEqual(noForm);
    expect(await invitation.acceptInvitationAction("A".repeat(43), null, form({ name: new Blob(["x"]), password: GOOD, confirm: GOOD }))).toEqual({ error: "This field takes text, not a file.", fieldErrors: { name: ["This field takes text, not a file."] } });
    const [row] = await getDb().select({ status: users.status, hash: users.passwordHash }).from(users).where(eq(users.id, user.id));
    expect(row).toEqual({ status: "invited", hash: null });
    // The link was not used up by any of them.
    expect((await setPasswordWithLink("invite", "dev", { token, password: GOOD, confirm: GOOD })).token).toEqual(expect.any(String));
  });

  it("a NUL byte (which no text column holds) in the environment or the email is refused with its reason, not a 500, and counts nothing", async () => {
    const audit = await countRows("audit_events");
    expect(await actions.passwordSignInAction("dev\u0000", null, form({ email: "a@example.com", password: GOOD }))).toMatchObject({ error: expect.stringMatching(/NUL|null character/i) });
    expect(await actions.passwordSignInAction("dev", null, form({ email: "a\u0000@example.com", password: GOOD }))).toMatchObject({ error: "Enter a valid email address." });
    expect(await actions.secondFactorSignInAction("dev\u0000", null, form({ second_step: "x", code: "123456" }))).toMatchObject({ error: expect.any(String) });
    expect(await actions.unlockAction("dev\u0000", "A".repeat(43), null)).toMatchObject({ error: expect.stringMatching(/NUL|null character/i) });
    expect(await actions.setPasswordAction("reset", "dev\u0000", "A".repeat(43), null, form({ password: GOOD, confirm: GOOD }))).toMatchObject({ error: expect.stringMatching(/NUL|null character/i) });
    expect(await signIn.passkeyOptionsAction("a\u0000@example.com", GOOD)).toEqual({ ok: false, error: "Enter a valid email address." });
    expect(await countRows("audit_events")).toBe(audit);
    expect(await getDb().select().from(auditEvents).where(eq(auditEvents.action, "user.password_reset"))).toHaveLength(0);
  });
});
