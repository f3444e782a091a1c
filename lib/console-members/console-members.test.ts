import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { encode } from "next-auth/jwt";
import { getDb, getSql } from "@/db/client";
import type { ConsoleRole } from "@/db/enums";
import { consoleInvitations, consoleMembers, consoleSessions, type Environment } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { readConsoleSession } from "@/lib/auth/session";
import { createApiToken, authenticateApiToken } from "@/lib/api-tokens";
import { listOutbox } from "@/lib/mail";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import {
  acceptConsoleInvitation,
  changeConsoleMemberRole,
  createConsoleMember,
  getConsoleMember,
  inviteConsoleMember,
  listConsoleMembers,
  peekConsoleInvitation,
  reactivateConsoleMember,
  removeConsoleMember,
  resendConsoleInvitation,
  suspendConsoleMember,
} from ".";

// Console members through the domain: invitations (one use, expiring), role and scope changes,
// suspension and removal, who may touch owners, the last active owner, sessions that end, and the
// audit row of every change.

const PASSWORD = "correct horse battery staple";
const NEW_PASSWORD = "violet kettle drums at noon";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const unique = () => crypto.randomUUID().slice(0, 8);

/** A member with a password, as a real row, and its context. */
async function member(role: ConsoleRole, environmentIds: string[] = []): Promise<DomainContext & { email: string; id: string }> {
  const email = `${role}-${unique()}@example.com`;
  const m = await createConsoleMember(systemCtx, { email, name: role, role, password: PASSWORD, environmentIds });
  return { actor: { type: "console_member", id: m.id, label: email, role, environmentIds }, requestId: "test", email, id: m.id };
}

async function signIn(email: string) {
  const result = await signInConsoleMember({ email, password: PASSWORD });
  if (!result.ok) throw new Error(`sign-in failed: ${result.reason}`);
  return result.sessionId;
}
const cookieFor = (sid: string) => encode({ token: { sid }, secret: process.env.NEXTAUTH_SECRET! });

/** The link of the newest mail to `email` in the outbox, read as an owner would. */
async function invitationLink(email: string): Promise<string> {
  const mails = await listOutbox(systemCtx.actor, 500);
  const mail = mails.find((m) => m.to === email);
  const match = mail && /\/sign-in\/invitation\/([A-Za-z0-9_-]+)/.exec(mail.body);
  if (!match) throw new Error(`no invitation mail to ${email}`);
  return match[1]!;
}

async function auditFor(targetId: string) {
  return getDb().execute<{ action: string; actor_id: string | null; before: Record<string, unknown> | null; after: Record<string, unknown> | null }>(
    sql`select action, actor_id, before, after from audit_events where target_id = ${targetId} order by id`,
  );
}

/** What every refusal must leave alone. */
async function snapshot() {
  const tables = ["console_members", "console_member_environments", "console_invitations", "email_outbox", "audit_events"];
  return {
    counts: Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(t)] as const))),
    members: await getDb().execute(sql`select id, role, status, password_hash from console_members order by id`),
    ended: await getDb().execute(sql`select count(*)::int as n from console_sessions where revoked_at is not null`),
  };
}

async function ownerCount() {
  const [row] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from console_members where role = 'owner' and status = 'active'`);
  return row!.n;
}

/** Leaves exactly one active owner: `keep`. The other owners become admins (directly, as setup). */
async function onlyOwner(keep: string) {
  await getDb().execute(sql`update console_members set role = 'admin' where role = 'owner' and id <> ${keep}`);
  expect(await ownerCount()).toBe(1);
}

describe("invitations", () => {
  it("invites a reviewer: an invited member, one mail with a one-time link, an audit row; no sign-in before accepting", async () => {
    const owner = await member("owner");
    const email = `invitee-${unique()}@example.com`;
    const { member: invited, expiresAt } = await inviteConsoleMember(owner, { email, role: "reviewer" });
    expect(invited).toMatchObject({ email, name: email.split("@")[0], role: "reviewer", status: "invited", passwordHash: null });
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(6.9 * 86_400_000);
    const [audit] = await auditFor(invited.id);
    expect(audit).toMatchObject({ action: "console_member.invite", actor_id: owner.id, after: { email, role: "reviewer", environments: [], expiresInDays: 7 } });
    const token = await invitationLink(email);
    // Only the link's hash is stored.
    const [row] = await getDb().select().from(consoleInvitations).where(eq(consoleInvitations.memberId, invited.id));
    expect(row!.tokenHash).not.toContain(token);
    expect(await peekConsoleInvitation(token)).toMatchObject({ email, role: "reviewer" });
    expect((await getConsoleMember(owner.actor, invited.id)).invitationExpiresAt).toEqual(row!.expiresAt);

    const refused = await signInConsoleMember({ email, password: PASSWORD });
    expect(refused).toEqual({ ok: false, reason: "invited" });
    const [failure] = await getDb().execute<{ reason: string }>(sql`select reason from audit_events where action = 'console.sign_in' and target_id = ${invited.id}`);
    expect(failure!.reason).toBe("invitation not accepted yet");
  });

  it("accepts in turn with the other member changes (a role change racing it deadlocked, or mailed an active member a new link)", async () => {
    const owner = await member("owner");
    const email = `turn-${unique()}@example.com`;
    await inviteConsoleMember(owner, { email, name: "In Turn", role: "reviewer" });
    const token = await invitationLink(email);
    // Another member change holds the members' lock: the acceptance waits for it, then goes ahead.
    const holder = await getSql().reserve();
    await holder`begin`;
    await holder`select pg_advisory_xact_lock(hashtext('console_members'))`;
    let accepted: Promise<unknown>;
    try {
      accepted = acceptConsoleInvitation({ token, name: "In Turn", password: NEW_PASSWORD, confirm: NEW_PASSWORD });
      await expect
        .poll(async () => (await getSql()<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'advisory'`)[0]!.n, { timeout: 15_000 })
        .toBe(1);
    } finally {
      await holder`commit`;
      holder.release();
    }
    expect(await accepted!).toEqual({ email });
  });

  it("accepts once: the password is set, the member is active and signs in; the link is then used up", async () => {
    const owner = await member("owner");
    const email = `once-${unique()}@example.com`;
    const { member: invited } = await inviteConsoleMember(owner, { email, name: "Once Only", role: "reviewer" });
    const token = await invitationLink(email);
    // A weak password or a mismatch is refused without using the link up.
    await expect(acceptConsoleInvitation({ token, name: "Once Only", password: "password1234", confirm: "password1234" })).rejects.toThrow("This is one of the most common passwords; choose another.");
    await expect(acceptConsoleInvitation({ token, name: "Once Only", password: NEW_PASSWORD, confirm: "something else entirely" })).rejects.toThrow("The passwords do not match.");
    expect(await peekConsoleInvitation(token)).not.toBeNull();

    expect(await acceptConsoleInvitation({ token, name: "Once Only", password: NEW_PASSWORD, confirm: NEW_PASSWORD }, { ip: "203.0.113.7" })).toEqual({ email });
    const [row] = await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, invited.id));
    expect(row).toMatchObject({ status: "active", name: "Once Only" });
    expect(row!.passwordHash).toMatch(/^\$argon2id\$/);
    const accepted = (await auditFor(invited.id)).find((a) => a.action === "console_member.invitation_accepted");
    expect(accepted).toMatchObject({ actor_id: invited.id, after: { role: "reviewer", status: "active" } });
    expect(JSON.stringify(accepted)).not.toContain(NEW_PASSWORD);
    expect((await signInConsoleMember({ email, password: NEW_PASSWORD })).ok).toBe(true);

    // A second use is refused with the reason and changes nothing.
    const before = await snapshot();
    expect(await peekConsoleInvitation(token)).toBeNull();
    await expect(acceptConsoleInvitation({ token, name: "Someone Else", password: "another fine long passphrase", confirm: "another fine long passphrase" })).rejects.toThrow(
      "This invitation was already used or has expired; ask an owner or admin to send it again.",
    );
    expect(await snapshot()).toEqual(before);
  });

  it("expires: a link past its expiry is refused with the reason; sending again makes a new link and voids the old one", async () => {
    const owner = await member("owner");
    const email = `late-${unique()}@example.com`;
    const { member: invited } = await inviteConsoleMember(owner, { email, role: "reviewer" });
    const old = await invitationLink(email);
    await getDb().update(consoleInvitations).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(consoleInvitations.memberId, invited.id));
    expect(await peekConsoleInvitation(old)).toBeNull();
    const before = await snapshot();
    await expect(acceptConsoleInvitation({ token: old, name: "Late", password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow(
      "This invitation was already used or has expired; ask an owner or admin to send it again.",
    );
    expect(await snapshot()).toEqual(before);

    await resendConsoleInvitation(owner, invited.id);
    const fresh = await invitationLink(email);
    expect(fresh).not.toBe(old);
    // The old link, even with its expiry moved back into the future, stays used up.
    await getDb().update(consoleInvitations).set({ expiresAt: sql`now() + interval '1 day'` }).where(eq(consoleInvitations.memberId, invited.id));
    expect(await peekConsoleInvitation(old)).toBeNull();
    expect((await auditFor(invited.id)).map((a) => a.action)).toEqual(["console_member.invite", "console_member.invitation_resent"]);
    await acceptConsoleInvitation({ token: fresh, name: "Late", password: NEW_PASSWORD, confirm: NEW_PASSWORD });
    await expect(resendConsoleInvitation(owner, invited.id)).rejects.toThrow(`${email} has accepted their invitation already.`);
  });

  it("validates the role's scope and refuses a duplicate email, writing nothing", async () => {
    const owner = await member("owner");
    const before = await snapshot();
    await expect(inviteConsoleMember(owner, { email: `scope-${unique()}@example.com`, role: "environment_admin" })).rejects.toMatchObject({
      fieldErrors: { environmentIds: ["An environment admin needs at least one environment."] },
    });
    await expect(inviteConsoleMember(owner, { email: `scope-${unique()}@example.com`, role: "reviewer", environmentIds: [env.dev.id] })).rejects.toMatchObject({
      fieldErrors: { environmentIds: ["Reviewers are not limited to environments; only an environment admin is."] },
    });
    await expect(inviteConsoleMember(owner, { email: "not an email", role: "janitor" })).rejects.toMatchObject({ fieldErrors: { email: expect.any(Array), role: expect.any(Array) } });
    await expect(inviteConsoleMember(owner, { email: owner.email.toUpperCase(), role: "reviewer" })).rejects.toMatchObject({
      status: 409,
      fieldErrors: { email: ["A console member with this email already exists."] },
    });
    expect(await snapshot()).toEqual(before);
    const devAdmin = await inviteConsoleMember(owner, { email: `dev-admin-${unique()}@example.com`, role: "environment_admin", environmentIds: [env.dev.id] });
    expect((await getConsoleMember(owner.actor, devAdmin.member.id)).environments.map((e) => e.key)).toEqual(["dev"]);
  });
});

describe("who may manage members", () => {
  it("refuses an environment admin and a reviewer with the reason, writing nothing", async () => {
    const target = await member("reviewer");
    const devAdmin = await member("environment_admin", [env.dev.id]);
    const reviewer = await member("reviewer");
    const before = await snapshot();
    for (const [actor, reason] of [
      [devAdmin, "An environment admin cannot change console members."],
      [reviewer, "A reviewer cannot change console members."],
    ] as const) {
      await expect(inviteConsoleMember(actor, { email: `nope-${unique()}@example.com`, role: "reviewer" })).rejects.toThrow(reason);
      await expect(changeConsoleMemberRole(actor, target.id, { role: "admin" })).rejects.toThrow(reason);
      await expect(suspendConsoleMember(actor, target.id)).rejects.toThrow(reason);
      await expect(reactivateConsoleMember(actor, target.id)).rejects.toThrow(reason);
      await expect(removeConsoleMember(actor, target.id)).rejects.toThrow(reason);
      await expect(resendConsoleInvitation(actor, target.id)).rejects.toThrow(reason);
    }
    expect(await snapshot()).toEqual(before);
    // Both may read the list (their role reads everything).
    expect((await listConsoleMembers(devAdmin.actor)).some((m) => m.id === target.id)).toBe(true);
    expect((await listConsoleMembers(reviewer.actor)).some((m) => m.id === target.id)).toBe(true);
  });

  it("lets an admin manage admins, environment admins and reviewers, but not owners (only owners touch owners)", async () => {
    const admin = await member("admin");
    const owner = await member("owner");
    const { token } = await createApiToken(owner, { name: `members ${unique()}`, scope: "write" });
    const tokenCtx: DomainContext = { actor: (await authenticateApiToken(token))!.actor, requestId: "test" };
    const before = await snapshot();
    await expect(inviteConsoleMember(admin, { email: `boss-${unique()}@example.com`, role: "owner" })).rejects.toThrow("Only an owner can make someone an owner.");
    await expect(changeConsoleMemberRole(admin, admin.id, { role: "owner" })).rejects.toThrow("Only an owner can make someone an owner.");
    await expect(changeConsoleMemberRole(admin, owner.id, { role: "reviewer" })).rejects.toThrow("Only an owner can change, suspend or remove an owner.");
    await expect(suspendConsoleMember(admin, owner.id)).rejects.toThrow("Only an owner can change, suspend or remove an owner.");
    await expect(removeConsoleMember(admin, owner.id)).rejects.toThrow("Only an owner can change, suspend or remove an owner.");
    // An API token (an admin could mint one) cannot make an owner either.
    await expect(inviteConsoleMember(tokenCtx, { email: `boss-${unique()}@example.com`, role: "owner" })).rejects.toThrow(
      "Only an owner signed in to the console can invite, change, suspend or remove an owner; an API token cannot.",
    );
    await expect(removeConsoleMember(tokenCtx, owner.id)).rejects.toThrow("an API token cannot.");
    expect(await snapshot()).toEqual(before);

    const invited = await inviteConsoleMember(admin, { email: `helper-${unique()}@example.com`, role: "admin" });
    expect((await changeConsoleMemberRole(admin, invited.member.id, { role: "environment_admin", environmentIds: [env.prod.id] })).changed).toBe(true);
    const owners = await inviteConsoleMember(owner, { email: `co-owner-${unique()}@example.com`, role: "owner" });
    expect(owners.member.role).toBe("owner");
  });
});

describe("the last active owner", () => {
  it("cannot be removed, demoted or suspended, each with the reason; nothing is written", async () => {
    const owner = await member("owner");
    await onlyOwner(owner.id);
    const self = await signIn(owner.email);
    const before = await snapshot();
    const reason = (verb: string) => `${owner.email} is the last active owner and cannot be ${verb}; make another member an owner first.`;
    await expect(removeConsoleMember(owner, owner.id)).rejects.toMatchObject({ code: "last_owner", status: 409, message: reason("removed") });
    await expect(changeConsoleMemberRole(owner, owner.id, { role: "admin" })).rejects.toMatchObject({ code: "last_owner", message: reason("demoted") });
    await expect(suspendConsoleMember(owner, owner.id)).rejects.toMatchObject({ code: "last_owner", message: reason("suspended") });
    expect(await snapshot()).toEqual(before);
    expect(await readConsoleSession(await cookieFor(self))).not.toBeNull();

    // Invited and suspended owners do not count: an invited owner is no rescue.
    await inviteConsoleMember(owner, { email: `future-owner-${unique()}@example.com`, role: "owner" });
    await expect(removeConsoleMember(owner, owner.id)).rejects.toMatchObject({ code: "last_owner" });

    // With a second active owner, the first may step down; then the second is the last.
    const second = await member("owner");
    const stepDown = await changeConsoleMemberRole(owner, owner.id, { role: "admin" });
    expect(stepDown).toEqual({ changed: true, sessionsEnded: 1 });
    await expect(suspendConsoleMember(second, second.id)).rejects.toMatchObject({ code: "last_owner" });
  });

  it("survives two owners demoting each other at the same moment: one change wins, the other is refused", async () => {
    // A race: several rounds, so that without the lock the two checks overlap in at least one.
    for (let round = 0; round < 5; round++) {
      const a = await member("owner");
      await onlyOwner(a.id);
      const b = await member("owner");
      const results = await Promise.allSettled([
        changeConsoleMemberRole(a, b.id, { role: "reviewer" }),
        changeConsoleMemberRole(b, a.id, { role: "reviewer" }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
      expect((results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason).toMatchObject({ code: "last_owner" });
      expect(await ownerCount()).toBe(1);
    }
  });
});

describe("sessions end, and every change is audited", () => {
  it("ends the member's sessions when they are suspended (sign-in refused until reactivated)", async () => {
    const admin = await member("admin");
    const target = await member("reviewer");
    const [s1, s2] = [await signIn(target.email), await signIn(target.email)];
    expect((await getConsoleMember(admin.actor, target.id)).activeSessions).toBe(2);
    expect(await suspendConsoleMember(admin, target.id)).toEqual({ changed: true, sessionsEnded: 2 });
    for (const sid of [s1, s2]) expect(await readConsoleSession(await cookieFor(sid))).toBeNull();
    expect(await signInConsoleMember({ email: target.email, password: PASSWORD })).toEqual({ ok: false, reason: "suspended" });
    expect(await suspendConsoleMember(admin, target.id)).toEqual({ changed: false, sessionsEnded: 0 });

    expect(await reactivateConsoleMember(admin, target.id)).toEqual({ changed: true });
    // Reactivation does not bring the old sessions back; a new sign-in works.
    expect(await readConsoleSession(await cookieFor(s1))).toBeNull();
    expect(await readConsoleSession(await cookieFor(await signIn(target.email)))).not.toBeNull();
    const audit = (await auditFor(target.id)).filter((a) => a.action.startsWith("console_member."));
    expect(audit.map((a) => [a.action, a.actor_id, a.before, a.after])).toEqual([
      ["console_member.create", null, null, { email: target.email, name: "reviewer", role: "reviewer", environments: [] }],
      ["console_member.suspend", admin.id, { status: "active" }, { status: "suspended", sessionsEnded: 2, reviewerCredentialsRevoked: 0 }],
      ["console_member.reactivate", admin.id, { status: "suspended" }, { status: "active" }],
    ]);
  });

  it("ends the member's sessions when they are demoted or their environments change, and the new role applies", async () => {
    const owner = await member("owner");
    const target = await member("admin");
    const sid = await signIn(target.email);
    expect(await changeConsoleMemberRole(owner, target.id, { role: "environment_admin", environmentIds: [env.dev.id, env.prod.id] })).toEqual({ changed: true, sessionsEnded: 1 });
    expect(await readConsoleSession(await cookieFor(sid))).toBeNull();
    const again = await signIn(target.email);
    expect((await readConsoleSession(await cookieFor(again)))!.member).toMatchObject({ role: "environment_admin" });
    // Narrowing the scope is a demotion too.
    expect(await changeConsoleMemberRole(owner, target.id, { role: "environment_admin", environmentIds: [env.dev.id] })).toEqual({ changed: true, sessionsEnded: 1 });
    // The same role and scope again changes nothing and ends nothing.
    await signIn(target.email);
    expect(await changeConsoleMemberRole(owner, target.id, { role: "environment_admin", environmentIds: [env.dev.id] })).toEqual({ changed: false, sessionsEnded: 0 });
    const changes = (await auditFor(target.id)).filter((a) => a.action === "console_member.role_change");
    expect(changes.map((a) => [a.actor_id, a.before, a.after])).toEqual([
      [owner.id, { role: "admin", environments: [] }, { role: "environment_admin", environments: ["dev", "prod"], sessionsEnded: 1 }],
      [owner.id, { role: "environment_admin", environments: ["dev", "prod"] }, { role: "environment_admin", environments: ["dev"], sessionsEnded: 1 }],
    ]);
  });

  it("ends the member's sessions when they are removed; the row goes and the trail keeps who they were", async () => {
    const admin = await member("admin");
    const target = await member("environment_admin", [env.test.id]);
    const sid = await signIn(target.email);
    expect(await removeConsoleMember(admin, target.id)).toEqual({ sessionsEnded: 1 });
    expect(await readConsoleSession(await cookieFor(sid))).toBeNull();
    expect(await getDb().select().from(consoleMembers).where(eq(consoleMembers.id, target.id))).toEqual([]);
    expect(await getDb().select().from(consoleSessions).where(eq(consoleSessions.memberId, target.id))).toEqual([]);
    const [removed] = (await auditFor(target.id)).filter((a) => a.action === "console_member.remove");
    expect(removed).toMatchObject({
      actor_id: admin.id,
      before: { email: target.email, role: "environment_admin", status: "active", environments: ["test"] },
      after: { sessionsEnded: 1, reviewerCredentialsRevoked: 0 },
    });
    await expect(removeConsoleMember(admin, target.id)).rejects.toThrow("No such console member.");
    await expect(removeConsoleMember(admin, "not-a-uuid")).rejects.toThrow("No such console member.");
  });

  it("replaces an invited member's link when their role changes; removing an invitation kills its link", async () => {
    const owner = await member("owner");
    const email = `promoted-${unique()}@example.com`;
    const { member: invited } = await inviteConsoleMember(owner, { email, role: "reviewer" });
    const asReviewer = await invitationLink(email);
    const change = await changeConsoleMemberRole(owner, invited.id, { role: "owner" });
    expect(change).toEqual({ changed: true, sessionsEnded: 0 });
    expect(await peekConsoleInvitation(asReviewer)).toBeNull();
    const asOwner = await invitationLink(email);
    expect(await peekConsoleInvitation(asOwner)).toMatchObject({ role: "owner" });
    expect((await auditFor(invited.id)).at(-1)).toMatchObject({ action: "console_member.role_change", after: { role: "owner", invitationReplaced: true } });

    const other = `withdrawn-${unique()}@example.com`;
    const { member: withdrawn } = await inviteConsoleMember(owner, { email: other, role: "reviewer" });
    const link = await invitationLink(other);
    await removeConsoleMember(owner, withdrawn.id);
    expect(await peekConsoleInvitation(link)).toBeNull();
    await expect(acceptConsoleInvitation({ token: link, name: "Withdrawn", password: NEW_PASSWORD, confirm: NEW_PASSWORD })).rejects.toThrow("This invitation was already used or has expired");
    // An invited member cannot be suspended or reactivated: the reason says what to do instead.
    const third = await inviteConsoleMember(owner, { email: `pending-${unique()}@example.com`, role: "reviewer" });
    await expect(suspendConsoleMember(owner, third.member.id)).rejects.toThrow("has not accepted their invitation; remove them instead.");
  });
});

describe("the outbox and console invitations", () => {
  it("shows an owner's invitation only to owners, other invitations to owners and admins, none to an environment admin", async () => {
    const owner = await member("owner");
    const ownerMail = `mail-owner-${unique()}@example.com`;
    const adminMail = `mail-admin-${unique()}@example.com`;
    await inviteConsoleMember(owner, { email: ownerMail, role: "owner" });
    await inviteConsoleMember(owner, { email: adminMail, role: "admin" });
    const to = async (role: ConsoleRole, environmentIds: string[] = []) => (await listOutbox(memberCtx(role, environmentIds).actor, 500)).map((m) => m.to);
    expect(await to("owner")).toEqual(expect.arrayContaining([ownerMail, adminMail]));
    const admins = await to("admin");
    expect(admins).toContain(adminMail);
    expect(admins).not.toContain(ownerMail);
    const devAdmin = await to("environment_admin", [env.dev.id]);
    expect(devAdmin).not.toContain(adminMail);
    expect(devAdmin).not.toContain(ownerMail);
  });
});
