import { and, desc, eq, sql } from "drizzle-orm";
import { generate } from "otplib";
import { encode } from "next-auth/jwt";
import { NextRequest } from "next/server";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, consoleInvitations, consoleMembers, consoleSessions, consoleSso, ssoTraces } from "@/db/schema";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { readConsoleSession, sessionCookieName } from "@/lib/auth/session";
import { changeConsoleMemberRole, inviteConsoleMember, suspendConsoleMember } from "@/lib/console-members";
import { denialReason } from "@/lib/permissions";
import { confirmTotpEnrolment, startTotpEnrolment } from "@/lib/second-factor";
import { setupSso, type SsoFixture } from "@/lib/sso/testing/fixture";
import { signInAs } from "@/test-support/console-session";
import { countRows, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { POST as acsRoute } from "@/app/api/sso/acs/route";
import { consoleAccessFor, consoleSsoSettings, updateConsoleSso, type ConsoleSsoMapping } from ".";

vi.mock("next/cache", () => ({ revalidatePath: () => undefined }));

// Console SSO against Postgres and a test IdP (lib/sso/testing): the owners' settings and their
// rules, then sign-ins through the same ACS as end users: role from the mapped groups (no mapping, no
// access), owners and suspended members kept out, an existing member linked by email, the same
// binding and replay checks, and the password kept for owners only (break-glass).

let f: SsoFixture;
let dev: string;
let prod: string;

beforeAll(async () => {
  f = await setupSso();
  dev = f.envs.dev.id;
  prod = f.envs.prod.id;
});

async function configure(overrides: Partial<{ enabled: boolean; passwordSignIn: "everyone" | "owners"; mappings: ConsoleSsoMapping[] }> = {}) {
  return updateConsoleSso(systemCtx, {
    enabled: true,
    identityProviderId: f.idp.id,
    passwordSignIn: "everyone",
    mappings: [
      { idpValue: "Auditors", role: "reviewer", environmentIds: [] },
      { idpValue: "Platform", role: "environment_admin", environmentIds: [dev] },
      { idpValue: "Platform-Prod", role: "environment_admin", environmentIds: [prod] },
      { idpValue: "IAM Admins", role: "admin", environmentIds: [] },
    ],
    ...overrides,
  });
}

const person = (email: string, groups: string[], subject = email) => ({ subject, attributes: { email: [email], name: ["Sso Member"], groups } });

async function memberByEmail(email: string) {
  const [m] = await getDb().select().from(consoleMembers).where(sql`lower(${consoleMembers.email}) = lower(${email})`);
  return m;
}

async function sessionOf(sessionId: string) {
  return readConsoleSession(await encode({ token: { sid: sessionId }, secret: process.env.NEXTAUTH_SECRET! }));
}

beforeEach(async () => {
  await configure();
});

describe("the role the IdP groups grant", () => {
  const mappings: ConsoleSsoMapping[] = [
    { idpValue: "a", role: "reviewer", environmentIds: [] },
    { idpValue: "b", role: "environment_admin", environmentIds: ["e1"] },
    { idpValue: "c", role: "environment_admin", environmentIds: ["e2", "e1"] },
    { idpValue: "d", role: "admin", environmentIds: [] },
    { idpValue: "orphan", role: "environment_admin", environmentIds: [] },
  ];
  it("is the strongest mapped role; an environment admin gets every matching mapping's environments", () => {
    expect(consoleAccessFor(mappings, ["a"])).toEqual({ role: "reviewer", environmentIds: [], matched: ["a"] });
    expect(consoleAccessFor(mappings, ["a", "b", "c"])).toEqual({ role: "environment_admin", environmentIds: ["e1", "e2"], matched: ["a", "b", "c"] });
    expect(consoleAccessFor(mappings, ["b", "d"])).toMatchObject({ role: "admin", environmentIds: [] });
  });
  it("is nothing without a mapped group (an environment-admin mapping left without environments grants nothing)", () => {
    expect(consoleAccessFor(mappings, [])).toBeNull();
    expect(consoleAccessFor(mappings, ["A", "unknown"])).toBeNull();
    expect(consoleAccessFor(mappings, ["orphan"])).toBeNull();
  });
});

describe("the owners' settings", () => {
  it("only an owner changes them; an IdP group never grants owner; each rule is a field error; nothing is written on refusal", async () => {
    const admin = await realMemberCtx("admin");
    await expect(updateConsoleSso(admin, { enabled: false })).rejects.toThrow("Only an owner can change how members sign in to the console.");
    const owner = await realMemberCtx("owner");
    const before = await consoleSsoSettings();
    const refusals = await Promise.all([
      updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "Founders", role: "owner" }] }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "X", role: "reviewer" }, { idpValue: "X", role: "admin" }] }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "X", role: "environment_admin" }] }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "X", role: "reviewer", environmentIds: [dev] }] }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: false, passwordSignIn: "owners" }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true, identityProviderId: crypto.randomUUID() }).catch((e) => e.fieldErrors),
      updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "X", role: "environment_admin", environmentIds: [crypto.randomUUID()] }] }).catch((e) => e.fieldErrors),
    ]);
    expect(refusals).toEqual([
      { "mappings.0.role": ["Choose a role an IdP group may grant: admin, environment_admin, reviewer (owners are invited, never granted by an IdP)."] },
      { "mappings.1.idpValue": ["“X” is mapped twice; map each IdP group once."] },
      { "mappings.0.environmentIds": ["An environment admin needs at least one environment."] },
      { "mappings.0.environmentIds": ["Reviewers are not limited to environments; only an environment admin is."] },
      { identityProviderId: ["Choose the identity provider members sign in with."] },
      { passwordSignIn: ["Keep password sign-in for everyone while console SSO is off."] },
      { identityProviderId: ["This identity provider does not exist."] },
      { mappings: ["One or more environments do not exist."] },
    ]);
    // Owners only with a password needs the owner's own second factor first.
    await expect(updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, passwordSignIn: "owners" })).rejects.toThrow(
      "Add a second factor to your own account first: with SSO for members, owners sign in with a password and a second factor.",
    );
    expect(await consoleSsoSettings()).toEqual(before);
  });

  it("are saved as a whole and audited with the mappings in words", async () => {
    const owner = await realMemberCtx("owner");
    await updateConsoleSso(owner, { enabled: true, identityProviderId: f.idp.id, mappings: [{ idpValue: "Platform", role: "environment_admin", environmentIds: [prod, dev] }] });
    expect((await consoleSsoSettings()).mappings).toEqual([{ idpValue: "Platform", role: "environment_admin", environmentIds: expect.arrayContaining([dev, prod]) }]);
    expect(await countRows("console_sso_mappings")).toBe(1);
    const [audit] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, "console.sso.update")).orderBy(desc(auditEvents.occurredAt)).limit(1);
    expect(audit).toMatchObject({ actorId: owner.actor.id, targetLabel: "Console SSO" });
    expect((audit!.after as { mappings: string[] }).mappings[0]).toMatch(/^Platform → environment_admin \((dev, prod|prod, dev)\)$/);
  });
});

describe("signing in to the console through the IdP", () => {
  it("creates a member with the mapped role and opens an SSO session that can only read; the trace and audit say so", async () => {
    const result = await f.signInToConsole(person("rita.reviewer@example.com", ["Auditors", "Unmapped"]));
    if (!result.ok || !("console" in result)) throw new Error(result.ok ? "not a console sign-in" : result.reason);
    expect(result.redirectTo).toBe("/console");
    const member = await memberByEmail("rita.reviewer@example.com");
    expect(member).toMatchObject({ role: "reviewer", status: "active", passwordHash: null, ssoIdentityProviderId: f.idp.id, ssoSubject: "rita.reviewer@example.com" });
    const session = await sessionOf(result.console.sessionId);
    expect(session).toMatchObject({ method: "sso", mustEnrol: false, member: { id: member!.id, role: "reviewer", environmentIds: [] } });
    const actor = { type: "console_member" as const, id: member!.id, label: member!.email, role: session!.member.role, environmentIds: [] };
    expect(denialReason(actor, "users", "read", "any")).toBeNull();
    expect(denialReason(actor, "users", "write", "any")).toMatch(/reviewer/i);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
    expect(trace).toMatchObject({ outcome: "success", environmentId: null, result: { console: true, role: "reviewer", matchedGroups: ["Auditors"], created: true } });
    const audits = await getDb().select().from(auditEvents).where(eq(auditEvents.targetId, member!.id));
    expect(audits.map((a) => `${a.action}:${a.outcome}`).sort()).toEqual(["console.sign_in:success", "console_member.create:success"]);
  });

  it("refuses an assertion with no mapped group: no mapping, no access, no member, the reason on the trace", async () => {
    const members = await countRows("console_members");
    const result = await f.signInToConsole(person("nobody@example.com", ["Engineering"]));
    expect(result).toMatchObject({ ok: false, console: true, check: "console_access", reason: "No console role is mapped to any of nobody@example.com's IdP groups (“Engineering”): no mapping, no access." });
    expect(await countRows("console_members")).toBe(members);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, (result as { traceId: string }).traceId));
    expect(trace).toMatchObject({ outcome: "failure", failedCheck: "console_access", result: { console: true } });
  });

  it("ends a linked member's sessions when the IdP's groups no longer map to any role (audited); their role stays for an admin to decide", async () => {
    const first = await f.signInToConsole(person("dana.dropped@example.com", ["IAM Admins"]));
    if (!first.ok || !("console" in first)) throw new Error("first sign-in failed");
    const refused = await f.signInToConsole(person("dana.dropped@example.com", ["Engineering"]));
    expect(refused).toMatchObject({ ok: false, check: "console_access" });
    expect(await sessionOf(first.console.sessionId)).toBeNull();
    const member = await memberByEmail("dana.dropped@example.com");
    const [audit] = await getDb().select().from(auditEvents).where(and(eq(auditEvents.targetId, member!.id), eq(auditEvents.action, "console_member.sessions_end")));
    expect(audit).toMatchObject({ reason: expect.stringContaining("No console role is mapped to their IdP groups any more"), after: { sessionsEnded: 1 } });
    expect(member).toMatchObject({ role: "admin", status: "active" });
  });

  it("ends the sessions the new settings would refuse: members' password sessions once passwords are for owners, SSO sessions once SSO is off", async () => {
    const sso = await f.signInToConsole(person("sid.sso@example.com", ["Auditors"]));
    if (!sso.ok || !("console" in sso)) throw new Error("SSO sign-in failed");
    const plain = await signInAs("admin");
    const [passwordSession] = await getDb().select({ id: consoleSessions.id }).from(consoleSessions).where(eq(consoleSessions.memberId, plain.memberId));
    await configure({ passwordSignIn: "owners" });
    expect(await sessionOf(passwordSession!.id)).toBeNull();
    expect(await sessionOf(sso.console.sessionId)).not.toBeNull();
    await configure({ enabled: false, passwordSignIn: "everyone" });
    expect(await sessionOf(sso.console.sessionId)).toBeNull();
    // A mapping taken away: the sessions it gave end (the next sign-in gets what the groups map to now).
    await configure();
    const again = await f.signInToConsole(person("sid.sso@example.com", ["Auditors"]));
    if (!again.ok || !("console" in again)) throw new Error("SSO sign-in failed");
    await configure({ mappings: [{ idpValue: "IAM Admins", role: "admin", environmentIds: [] }] });
    expect(await sessionOf(again.console.sessionId)).toBeNull();
  });

  it("follows the groups at each sign-in: a changed role ends the member's other sessions", async () => {
    const first = await f.signInToConsole(person("pat.platform@example.com", ["Platform"]));
    if (!first.ok || !("console" in first)) throw new Error("first sign-in failed");
    expect((await sessionOf(first.console.sessionId))?.member).toMatchObject({ role: "environment_admin", environmentIds: [dev] });
    const again = await f.signInToConsole(person("pat.platform@example.com", ["Platform", "Platform-Prod"]));
    if (!again.ok || !("console" in again)) throw new Error("second sign-in failed");
    expect(await sessionOf(first.console.sessionId)).toBeNull();
    expect((await sessionOf(again.console.sessionId))?.member.environmentIds.sort()).toEqual([dev, prod].sort());
    // The audit row names the environments by key before and after, as every other role change.
    const [change] = await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, "console_member.role_change"), eq(auditEvents.targetLabel, "pat.platform@example.com"))).orderBy(desc(auditEvents.id)).limit(1);
    expect([change!.before, (change!.after as { environments: string[] }).environments]).toEqual([{ role: "environment_admin", environments: ["dev"] }, ["dev", "prod"]]);
    const third = await f.signInToConsole(person("pat.platform@example.com", ["IAM Admins"]));
    if (!third.ok || !("console" in third)) throw new Error("third sign-in failed");
    expect((await sessionOf(third.console.sessionId))?.member).toMatchObject({ role: "admin", environmentIds: [] });
    expect(await sessionOf(again.console.sessionId)).toBeNull();
  });

  it("keeps owners and suspended members out, and does not take over a member linked to another identity", async () => {
    const owner = await realMemberCtx("owner");
    const asOwner = await f.signInToConsole(person(owner.actor.label, ["IAM Admins"]));
    expect(asOwner).toMatchObject({ ok: false, check: "console_access", reason: `${owner.actor.label} is an owner: owners sign in with their password and second factor (the break-glass way in), never through an IdP.` });
    expect(await memberByEmail(owner.actor.label)).toMatchObject({ role: "owner", ssoSubject: null });

    const ok = await f.signInToConsole(person("sam.suspended@example.com", ["Auditors"]));
    expect(ok.ok).toBe(true);
    await suspendConsoleMember(systemCtx, (await memberByEmail("sam.suspended@example.com"))!.id);
    expect(await f.signInToConsole(person("sam.suspended@example.com", ["Auditors"]))).toMatchObject({ ok: false, reason: "sam.suspended@example.com is suspended from the console." });

    expect((await f.signInToConsole(person("lee.linked@example.com", ["Auditors"]))).ok).toBe(true);
    expect(await f.signInToConsole(person("lee.linked@example.com", ["Auditors"], "another-subject"))).toMatchObject({
      ok: false,
      reason: "lee.linked@example.com signs in to the console as another identity; the IdP's subject “another-subject” does not match it.",
    });
  });

  it("links an invited member by email: the invitation is void, the role follows the groups", async () => {
    const { member } = await inviteConsoleMember(systemCtx, { email: "ivy.invited@example.com", role: "admin" });
    const result = await f.signInToConsole(person("ivy.invited@example.com", ["Platform"]));
    expect(result.ok).toBe(true);
    expect(await memberByEmail("ivy.invited@example.com")).toMatchObject({ id: member.id, status: "active", role: "environment_admin", ssoSubject: "ivy.invited@example.com" });
    const open = await getDb().select().from(consoleInvitations).where(and(eq(consoleInvitations.memberId, member.id), sql`${consoleInvitations.usedAt} is null`));
    expect(open).toEqual([]);
    const actions = (await getDb().select().from(auditEvents).where(eq(auditEvents.targetId, member.id))).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(["console_member.sso_link", "console_member.role_change", "console.sign_in"]));
  });

  it("runs the same checks as an end user's sign-in: the starting browser only, no replay, only while console SSO is on", async () => {
    const { relayState, requestId } = await f.startConsole();
    const { base64 } = f.response(requestId, person("bo.binding@example.com", ["Auditors"]));
    const otherBrowser = await f.postAny(base64, relayState, "x".repeat(43));
    expect(otherBrowser).toMatchObject({ ok: false, console: true, check: "binding" });
    expect(await f.postAny(base64, relayState)).toMatchObject({ ok: true });
    expect(await f.postAny(base64, relayState)).toMatchObject({ ok: false, check: "request", reason: "The sign-in request this answers has expired or was already used; start the sign-in again." });

    const started = await f.startConsole();
    await configure({ enabled: false });
    expect(await f.postAny(f.response(started.requestId, person("bo.binding@example.com", ["Auditors"])).base64, started.relayState)).toMatchObject({
      ok: false,
      check: "request",
      reason: `The console does not sign in with ${f.idp.name}.`,
    });
  });

  it("refuses an IdP-initiated response aimed at the console", async () => {
    const { base64 } = f.response(null, person("eve@example.com", ["IAM Admins"]));
    expect(await f.postAny(base64, "/console")).toMatchObject({
      ok: false,
      check: "relay_state",
      reason: "The console accepts only sign-ins it started: start at the console's sign-in page (“Sign in with single sign-on”).",
    });
    expect(await memberByEmail("eve@example.com")).toBeUndefined();
  });

  it("sets the console's session cookie at the ACS, or sends the browser to the sign-in page with the refusal", async () => {
    const acs = async (overrides: ReturnType<typeof person>) => {
      const { relayState, requestId, binding } = await f.startConsole();
      const { base64 } = f.response(requestId, overrides);
      return acsRoute(
        new NextRequest("http://localhost:3000/api/sso/acs", {
          method: "POST",
          body: new URLSearchParams({ SAMLResponse: base64, RelayState: relayState }).toString(),
          headers: { "content-type": "application/x-www-form-urlencoded", cookie: `iam_sso_binding=${binding}` },
        }),
      );
    };
    const ok = await acs(person("cookie.member@example.com", ["Auditors"]));
    expect(ok.status).toBe(303);
    expect(new URL(ok.headers.get("location")!).pathname).toBe("/console");
    const cookie = ok.cookies.get(sessionCookieName());
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "lax", path: "/" });
    expect((await readConsoleSession(cookie!.value))?.member.email).toBe("cookie.member@example.com");

    const refused = await acs(person("cookie.nobody@example.com", []));
    const location = new URL(refused.headers.get("location")!);
    expect(location.pathname).toBe("/sign-in");
    expect(location.searchParams.get("sso_error")).toMatch(/^[0-9a-f-]{36}$/);
    expect(refused.cookies.get(sessionCookieName())).toBeUndefined();
  });
});

describe("password sign-in once console SSO is on (break-glass)", () => {
  const PASSWORD = "a long test password";

  it("is kept for owners only when the owners say so; members are told to use SSO only after a right password", async () => {
    const owner = await realMemberCtx("owner");
    const { factorId, secret } = await startTotpEnrolment(owner);
    await confirmTotpEnrolment(owner, { factorId, code: await generate({ secret }), name: "Phone" });
    const admin = await realMemberCtx("admin");
    expect(await signInConsoleMember({ email: admin.actor.label, password: PASSWORD })).toMatchObject({ ok: true });

    await configure({ passwordSignIn: "owners" });
    await updateConsoleSso(owner, { ...(await consoleSsoSettings()), identityProviderId: f.idp.id, passwordSignIn: "owners" });
    expect(await signInConsoleMember({ email: admin.actor.label, password: "wrong password" })).toMatchObject({ ok: false, reason: "invalid" });
    expect(await signInConsoleMember({ email: admin.actor.label, password: PASSWORD })).toMatchObject({ ok: false, reason: "sso_required" });
    // The owner still signs in with the password, and the second factor.
    expect(await signInConsoleMember({ email: owner.actor.label, password: PASSWORD })).toMatchObject({ ok: false, reason: "second_factor_required" });
    const signedIn = await signInConsoleMember({ email: owner.actor.label, password: PASSWORD, code: await generate({ secret, epoch: Math.floor(Date.now() / 1000) + 30 }) });
    expect(signedIn).toMatchObject({ ok: true });

    // An owner without a second factor is sent to enrol one first.
    const bare = await realMemberCtx("owner");
    const bareSignIn = await signInConsoleMember({ email: bare.actor.label, password: PASSWORD });
    if (!bareSignIn.ok) throw new Error(bareSignIn.reason);
    expect(await sessionOf(bareSignIn.sessionId)).toMatchObject({ method: "password", mustEnrol: true });
    // Reverting: everyone keeps a password again.
    await configure();
    expect(await signInConsoleMember({ email: admin.actor.label, password: PASSWORD })).toMatchObject({ ok: true });
    expect(await sessionOf(bareSignIn.sessionId)).toMatchObject({ mustEnrol: false });
  });

  it("an SSO-managed member's role set in the console is replaced at their next SSO sign-in", async () => {
    const first = await f.signInToConsole(person("riley@example.com", ["Auditors"]));
    expect(first.ok).toBe(true);
    const member = (await memberByEmail("riley@example.com"))!;
    await changeConsoleMemberRole(systemCtx, member.id, { role: "admin" });
    expect(await f.signInToConsole(person("riley@example.com", ["Auditors"]))).toMatchObject({ ok: true });
    expect(await memberByEmail("riley@example.com")).toMatchObject({ role: "reviewer" });
    const sessions = await getDb().select().from(consoleSessions).where(eq(consoleSessions.memberId, member.id));
    expect(sessions.every((s) => s.method === "sso")).toBe(true);
    expect(await getDb().select().from(consoleSso)).toHaveLength(1);
  });
});

describe("the IdP console SSO uses", () => {
  it("cannot be deleted while console members sign in with it", async () => {
    const { createIdentityProvider, deleteIdentityProvider } = await import("@/lib/sso/identity-providers");
    const { generateKeyPair, idpMetadata } = await import("@/lib/sso/testing/test-idp");
    const other = await createIdentityProvider(systemCtx, { name: "Console IdP", metadataXml: idpMetadata("https://console-idp.example.test/metadata", "https://console-idp.example.test/sso", [generateKeyPair("console-idp").certBase64]) });
    await configure({ mappings: [] }).then(() => updateConsoleSso(systemCtx, { enabled: true, identityProviderId: other.id }));
    await expect(deleteIdentityProvider(systemCtx, other.id)).rejects.toThrow("Console members sign in with this identity provider; turn console SSO off first (Security).");
    expect((await consoleSsoSettings()).identityProvider?.id).toBe(other.id);
    await updateConsoleSso(systemCtx, { enabled: false, identityProviderId: other.id });
    await deleteIdentityProvider(systemCtx, other.id);
    expect(await consoleSsoSettings()).toMatchObject({ enabled: false, identityProvider: null });
  });
});
