import { beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, environmentAccess, groupMembers, groups, ssoTraces, userIdentities } from "@/db/schema";
import { countRows, createVerifiedUser, memberCtx, systemCtx } from "@/test-support/fixtures";
import { readEndUserSession } from "@/lib/end-user/sessions";
import { createGroup, addMembers } from "@/lib/groups";
import { setUserStatus, createUser, grantEnvironment, updateUser } from "@/lib/users";
import { linkIdentityFromTrace } from "./identities";
import { createIdentityProvider, setGroupMappings, updateIdentityProvider } from "./identity-providers";
import { previewTrace } from "./flow";
import { configureSso, setupSso, type SsoFixture } from "./testing/fixture";
import { generateKeyPair, idpMetadata } from "./testing/test-idp";

let f: SsoFixture;
let engineering: { id: string };
let ops: { id: string };
let design: { id: string };
beforeAll(async () => {
  f = await setupSso();
  engineering = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Engineering" });
  ops = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Operations" });
  design = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Design" });
  // The IdP calls Operations "okta-ops".
  await setGroupMappings(systemCtx, f.idp.id, { environmentId: f.envs.prod.id, mappings: [{ idpValue: "okta-ops", groupId: ops.id }] });
});

const identity = (email: string, name: string, groupValues: string[]) => ({ subject: email, attributes: { email: [email], name: [name], groups: groupValues } });

async function membershipsOf(userId: string) {
  const rows = await getDb()
    .select({ name: groups.name, source: groupMembers.source })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.userId, userId), eq(groupMembers.environmentId, f.envs.prod.id)));
  return Object.fromEntries(rows.map((r) => [r.name, r.source]));
}

describe("JIT and group sync", () => {
  it("creates the user on first sign-in with access, Everyone and the asserted groups, and opens a session", async () => {
    const result = await f.signIn(identity("jit@example.com", "Jit User", ["Engineering", "okta-ops", "Unknown Team"]));
    expect(result.ok, result.ok ? "" : result.reason).toBe(true);
    if (!result.ok) return;
    expect(result.user).toMatchObject({ email: "jit@example.com", name: "Jit User", source: "jit", status: "active" });
    expect(await membershipsOf(result.user.id)).toEqual({ Everyone: "system", Engineering: "saml", Operations: "saml" });
    const [access] = await getDb().select().from(environmentAccess).where(eq(environmentAccess.userId, result.user.id));
    expect(access).toMatchObject({ environmentId: f.envs.prod.id, source: "jit" });
    const session = await readEndUserSession("prod", result.token);
    expect(session?.user.id).toBe(result.user.id);
    // The IdP's authentication context is kept with the session (an SSO sign-in relies on the IdP's factors).
    expect(session?.session).toMatchObject({ method: "sso", authnContext: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport", secondFactor: null });
    // The unknown group value is reported in the trace, not silently dropped.
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
    expect(trace!.result).toMatchObject({ unknownGroups: ["Unknown Team"], groupsAdded: expect.arrayContaining(["Engineering", "Operations"]) });
    // Audited under the names the console and the REST API use for the same changes, in PROD.
    const audited = await getDb().select({ action: auditEvents.action, environmentId: auditEvents.environmentId }).from(auditEvents).where(and(eq(auditEvents.targetId, result.user.id), eq(auditEvents.action, "user.environment.grant")));
    expect(audited).toEqual([{ action: "user.environment.grant", environmentId: f.envs.prod.id }]);
    const memberRows = await getDb().select({ action: auditEvents.action }).from(auditEvents).where(eq(auditEvents.targetLabel, "Engineering"));
    expect(memberRows.map((r) => r.action)).toContain("group.members.add");
  });

  it("on a later sign-in updates the name, removes the SAML membership no longer asserted and keeps manual ones", async () => {
    const first = await f.signIn(identity("sync@example.com", "Sync User", ["Engineering", "okta-ops"]));
    if (!first.ok) throw new Error(first.reason);
    // An admin adds the user to Design by hand.
    await addMembers(systemCtx, { groupId: design.id, userIds: [first.user.id] });
    const second = await f.signIn(identity("sync@example.com", "Sync User Renamed", ["okta-ops"]));
    if (!second.ok) throw new Error(second.reason);
    expect(second.user.id).toBe(first.user.id);
    expect(second.user.name).toBe("Sync User Renamed");
    expect(await membershipsOf(first.user.id)).toEqual({ Everyone: "system", Operations: "saml", Design: "manual" });
    // Even when the assertion no longer lists Design, the manual membership stays.
    const third = await f.signIn(identity("sync@example.com", "Sync User Renamed", []));
    if (!third.ok) throw new Error(third.reason);
    expect(await membershipsOf(first.user.id)).toEqual({ Everyone: "system", Design: "manual" });
  });

  it("refuses to link by email a user whose email is not verified; an admin covering the user and the environment links it from the trace", async () => {
    const user = await createUser(systemCtx, { name: "Prepared", email: "prepared@example.com", environmentIds: [f.envs.prod.id] });
    const before = await countRows("user_identities");
    const refused = await f.signIn(identity("prepared@example.com", "Prepared", []));
    expect(refused.ok).toBe(false);
    if (refused.ok) return;
    expect(refused.check).toBe("email_unverified");
    expect(refused.reason).toMatch(/prepared@example\.com belongs to an existing user whose email is not verified/);
    expect(await countRows("user_identities")).toBe(before);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, refused.traceId!));
    expect(trace).toMatchObject({ failedCheck: "email_unverified", userId: user.id });
    // A DEV admin cannot attach a PROD sign-in to anyone; the user is outside their scope too.
    await expect(linkIdentityFromTrace(memberCtx("environment_admin", [f.envs.dev.id]), trace!.id)).rejects.toThrow("This change touches an environment outside your scope.");
    expect(await countRows("user_identities")).toBe(before);
    await linkIdentityFromTrace(memberCtx("admin"), trace!.id);
    const again = await f.signIn(identity("prepared@example.com", "Prepared", []));
    expect(again.ok && again.user.id).toBe(user.id);
  });

  it("an admin's email change makes the address unproven again: the next SSO sign-in with it is not linked", async () => {
    const user = await createVerifiedUser(systemCtx, { name: "Moved", email: "moved.old@example.com", environmentIds: [f.envs.dev.id] });
    await updateUser(memberCtx("environment_admin", [f.envs.dev.id]), user.id, { email: "moved.new@example.com" });
    const result = await f.signIn(identity("moved.new@example.com", "Moved", []));
    expect(result.ok ? "linked" : result.check).toBe("email_unverified");
  });

  it("changes the name only of users who can enter no environment but the IdP's; otherwise the trace says why", async () => {
    const user = await createVerifiedUser(systemCtx, { name: "Two Places", email: "two.places@example.com", environmentIds: [f.envs.prod.id, f.envs.dev.id] });
    const result = await f.signIn(identity("two.places@example.com", "Renamed By IdP", []));
    if (!result.ok) throw new Error(result.reason);
    expect(result.user.id).toBe(user.id);
    expect(result.user.name).toBe("Two Places");
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, result.traceId));
    expect(trace!.result).toMatchObject({ accountKept: "name left as they are: two.places@example.com can also enter an environment outside PROD." });
  });

  it("never converts or removes a manual membership that the assertion also lists", async () => {
    const user = await createVerifiedUser(systemCtx, { name: "Manual Member", email: "manual@example.com", environmentIds: [f.envs.prod.id], groupIds: [engineering.id] });
    const r1 = await f.signIn(identity("manual@example.com", "Manual Member", ["Engineering"]));
    if (!r1.ok) throw new Error(r1.reason);
    expect(r1.user.id).toBe(user.id);
    const r2 = await f.signIn(identity("manual@example.com", "Manual Member", []));
    if (!r2.ok) throw new Error(r2.reason);
    expect(await membershipsOf(user.id)).toEqual({ Everyone: "system", Engineering: "manual" });
    // The first SSO sign-in linked the account to (IdP, subject).
    expect(await getDb().select().from(userIdentities).where(eq(userIdentities.userId, user.id))).toHaveLength(1);
  });

  it("creates groups from the assertion when the IdP allows it", async () => {
    await updateIdentityProvider(systemCtx, f.idp.id, { createGroupsFromAssertion: true });
    try {
      const r = await f.signIn(identity("creator@example.com", "Creator", ["Brand New Team"]));
      if (!r.ok) throw new Error(r.reason);
      expect(await membershipsOf(r.user.id)).toMatchObject({ "Brand New Team": "saml" });
      const [g] = await getDb().select().from(groups).where(eq(groups.name, "Brand New Team"));
      expect(g!.source).toBe("saml");
    } finally {
      await updateIdentityProvider(systemCtx, f.idp.id, { createGroupsFromAssertion: false });
    }
  });
});

describe("refusals after the checks pass", () => {
  it("refuses an unknown user when JIT is off, creating nothing", async () => {
    await configureSso(f.envs.test, f.idp, { jit: false });
    const before = await countRows("users");
    const r = await f.signIn(identity("nojit@example.com", "No Jit", []), f.envs.test);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.check).toBe("no_account");
    expect(r.reason).toMatch(/no account for nojit@example.com, and just-in-time provisioning is off/i);
    expect(await countRows("users")).toBe(before);
  });

  it("refuses to grant by JIT a user no environment holds (account-wide: its admins would take the account over), granting nothing", async () => {
    const wide = await createVerifiedUser(systemCtx, { name: "Account Wide", email: "jit-wide@example.com", environmentIds: [] });
    const before = await countRows("environment_access");
    const r = await f.signIn(identity("jit-wide@example.com", "Account Wide", []));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect([r.check, r.reason]).toEqual(["no_access", `jit-wide@example.com can enter no environment yet (an account-wide user): an owner or admin grants them ${f.envs.prod.name} first, then they sign in here.`]);
    expect(await countRows("environment_access")).toBe(before);
    // Once an admin has granted it, the sign-in links and goes on.
    await grantEnvironment(systemCtx, { userId: wide.id, environmentId: f.envs.prod.id });
    const again = await f.signIn(identity("jit-wide@example.com", "Account Wide", []));
    expect(again.ok && again.user.id).toBe(wide.id);
  });

  it("refuses a suspended user", async () => {
    const r = await f.signIn(identity("suspend@example.com", "Suspend Me", []));
    if (!r.ok) throw new Error(r.reason);
    await setUserStatus(systemCtx, r.user.id, "suspended");
    const again = await f.signIn(identity("suspend@example.com", "Suspend Me", []));
    expect(again.ok).toBe(false);
    if (!again.ok) expect(again.reason).toMatch(/suspend@example.com is suspended/);
    // The earlier session ended at once.
    expect(await readEndUserSession("prod", r.token)).toBeNull();
  });

  it("does not let a second IdP take over an account by email", async () => {
    const owner = await f.signIn(identity("owned@example.com", "Owned", []));
    if (!owner.ok) throw new Error(owner.reason);
    const key = generateKeyPair("second-idp");
    const second = await createIdentityProvider(systemCtx, { name: "Second IdP", metadataXml: idpMetadata("https://second.example.test", "https://second.example.test/sso", [key.certBase64]) });
    await configureSso(f.envs.dev, second, {});
    const { relayState, requestId } = await f.start(f.envs.dev);
    const { buildResponse } = await import("./testing/test-idp");
    const { base64 } = buildResponse({ key, issuer: "https://second.example.test", destination: f.sp.acsUrl, audience: f.sp.entityId, subject: "owned@example.com", attributes: { email: ["owned@example.com"] }, inResponseTo: requestId });
    const r = await f.post(base64, relayState);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.check).toBe("identity_conflict");
      expect(r.reason).toMatch(/linked to another identity provider; a second IdP cannot take over the account/);
    }
  });
});

describe("mapping tester", () => {
  it("previews what a traced sign-in would do now, without writing", async () => {
    const r = await f.signIn(identity("preview@example.com", "Preview", ["Engineering"]));
    if (!r.ok) throw new Error(r.reason);
    // The admin maps the value to Design after the fact; an explicit mapping replaces the
    // same-name match, so the preview shows Design added and the SAML-made Engineering removed.
    await setGroupMappings(systemCtx, f.idp.id, { environmentId: f.envs.prod.id, mappings: [{ idpValue: "okta-ops", groupId: ops.id }, { idpValue: "Engineering", groupId: design.id }] });
    const counts = await Promise.all(["users", "group_members", "audit_events"].map(countRows));
    const preview = await previewTrace(r.traceId);
    expect(preview.plan).toMatchObject({ user: "match preview@example.com", access: "existing", groupsAdded: ["Design"], groupsRemoved: ["Engineering"], groupsKept: [] });
    expect(await Promise.all(["users", "group_members", "audit_events"].map(countRows))).toEqual(counts);
    await setGroupMappings(systemCtx, f.idp.id, { environmentId: f.envs.prod.id, mappings: [{ idpValue: "okta-ops", groupId: ops.id }] });
  });

  it("previews the sign-in in another environment", async () => {
    const r = await f.signIn(identity("other-env@example.com", "Other Env", ["Engineering"]));
    if (!r.ok) throw new Error(r.reason);
    const preview = await previewTrace(r.traceId, f.envs.dev.id);
    expect(preview.environment.key).toBe("dev");
    // DEV signs in with the second IdP (set up above), so the preview says why it would fail.
    expect(preview.denied).toMatchObject({ check: "request", reason: "DEV does not sign in with Test IdP." });
    await configureSso(f.envs.test, f.idp, { jit: true });
    const inTest = await previewTrace(r.traceId, f.envs.test.id);
    expect(inTest.plan).toMatchObject({ user: "match other-env@example.com", access: "grant", groupsAdded: [], unknownGroups: ["Engineering"] });
  });
});

describe("upkeep", () => {
  it("keeps the newest traces per IdP and drops the rest", async () => {
    const { pruneSsoState, TRACES_KEPT_PER_IDP } = await import("./flow");
    await getDb()
      .insert(ssoTraces)
      .values(Array.from({ length: TRACES_KEPT_PER_IDP + 5 }, (_, i) => ({ identityProviderId: f.idp.id, flow: "sp", outcome: "failure" as const, reason: `old ${i}`, createdAt: new Date(Date.now() - 86_400_000 - i * 1000) })));
    await pruneSsoState();
    const left = await getDb().select().from(ssoTraces).where(eq(ssoTraces.identityProviderId, f.idp.id));
    expect(left).toHaveLength(TRACES_KEPT_PER_IDP);
    // The newest ones stay: the sign-ins of this file were recorded today.
    expect(left.some((t) => t.outcome === "success")).toBe(true);
  });
});

