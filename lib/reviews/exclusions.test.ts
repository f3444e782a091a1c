import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "csv-parse/sync";
import { and, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { environmentAccess, groupMembers, membershipExclusions, scimRequestLog, ssoTraces } from "@/db/schema";
import { createVerifiedUser, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { flushRequestLog } from "@/lib/doors/scim/handler";
import { scimClient } from "@/lib/doors/scim/testing";
import { addMembers, createGroup } from "@/lib/groups";
import { liftExclusion, listUserExclusions } from "@/lib/groups/exclusions";
import { setupSso, type SsoFixture } from "@/lib/sso/testing/fixture";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { revokeEnvironment } from "@/lib/users";
import { closeAccessReview, createAccessReview, decideReviewItems, getAccessReview, reviewReport } from ".";

// Exclusions: a review's revocation of what a directory or an IdP owns is not undone by its next
// sync. SCIM PUT/PATCH and SAML group sync leave the member out and say so; lifting lets it back.

let f: SsoFixture;
beforeAll(async () => {
  f = await setupSso();
});

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();
const membersOf = async (groupId: string) =>
  (await getDb().select({ userId: groupMembers.userId, source: groupMembers.source }).from(groupMembers).where(eq(groupMembers.groupId, groupId))).map((m) => `${m.userId}:${m.source}`).sort();

/** A campaign over `scope` decided by its one reviewer (revoking `revoke`, with `reason`) and closed by an owner. */
async function reviewAndRevoke(scope: { groupIds?: string[]; environmentAccess?: boolean }, revoke: (item: { userId: string | null; groupId: string | null }) => boolean, reason: string) {
  const owner = await realMemberCtx("owner");
  const reviewer = await realMemberCtx("reviewer");
  const review = await createAccessReview(owner, {
    environmentId: f.envs.prod.id,
    name: `Review ${crypto.randomUUID().slice(0, 6)}`,
    scope: scope.environmentAccess ? "environment_access" : "groups",
    scopeIds: scope.groupIds ?? [],
    reviewerIds: [reviewer.actor.id],
    dueAt: tomorrow(),
  });
  const { items } = (await getAccessReview(f.envs.prod.id, review.id))!;
  const revoked = items.filter(revoke);
  expect(revoked.length).toBeGreaterThan(0);
  await decideReviewItems(reviewer, { reviewId: review.id, itemIds: revoked.map((i) => i.id), decision: "revoke", comment: reason });
  const summary = await closeAccessReview(owner, review.id);
  return { review, items, summary, owner, reviewer };
}

async function logEntries(directoryId: string) {
  await flushRequestLog();
  return getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, directoryId)).orderBy(scimRequestLog.id);
}

describe("exclusions from a directory's sync (SCIM)", () => {
  it("a revoked SCIM membership stays out of later PATCH and PUT (the rest applied), with the reason in the request log; lifting lets the next PATCH add it", async () => {
    const scim = await scimClient(f.envs.prod);
    const [ann, bob, cat] = await Promise.all(["ann", "bob", "cat"].map(async (n) => (await scim.call("POST", "/Users", { userName: `${n}.${scim.directory.id.slice(0, 6)}@corp.example`, displayName: n })).body.id as string));
    const group = (await scim.call("POST", "/Groups", { displayName: "Payments", members: [{ value: ann }, { value: bob }] })).body;

    const { review, summary, owner } = await reviewAndRevoke({ groupIds: [group.id] }, (i) => i.userId === bob, "Moved to sales");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    expect(await membersOf(group.id)).toEqual([`${ann}:scim`]);
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, bob!));
    expect(exclusion).toMatchObject({ kind: "member", groupId: group.id, source: "scim", directoryId: scim.directory.id, reason: "Moved to sales", reviewId: review.id, createdBy: owner.actor.label, liftedAt: null });
    // The report says the directory's sync now leaves it out.
    const rows = parse((await reviewReport(f.envs.prod.id, review.id))!.csv, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.outcome, r.exclusion]).sort()).toEqual([
      ["no decision (kept)", ""],
      ["revoked", "directory sync excluded"],
    ]);

    // The directory adds bob and cat back in one PATCH: cat is added, bob is left out.
    const patched = await scim.call("PATCH", `/Groups/${group.id}?attributes=members`, { Operations: [{ op: "add", path: "members", value: [{ value: bob }, { value: cat }] }] });
    expect(patched.status).toBe(200);
    expect(patched.body.members.map((m: { value: string }) => m.value).sort()).toEqual([ann, cat].sort());
    expect(await membersOf(group.id)).toEqual([`${ann}:scim`, `${cat}:scim`].sort());
    let log = await logEntries(scim.directory.id);
    expect(log.at(-1)!.change).toMatchObject({ patched: group.id, excludedMembers: [{ value: bob, reason: expect.stringContaining("Moved to sales") }] });
    expect(String((log.at(-1)!.change!.excludedMembers as { reason: string }[])[0]!.reason)).toContain(`excluded by access review "${review.name}"`);

    // A full PUT (Okta's way) too.
    const put = await scim.call("PUT", `/Groups/${group.id}`, { displayName: "Payments", members: [{ value: ann }, { value: bob }, { value: cat }] });
    expect(put.status).toBe(200);
    expect(await membersOf(group.id)).toEqual([`${ann}:scim`, `${cat}:scim`].sort());
    log = await logEntries(scim.directory.id);
    expect(log.at(-1)!.change).toMatchObject({ replaced: group.id, excludedMembers: [{ value: bob }] });
    // And the audit trail of the PATCH says so as well.
    const [audited] = await getDb().execute<{ after: { excludedMembers: { user: string; reason: string }[] } }>(
      sql`select after from audit_events where action = 'scim.group_patch' and target_id = ${group.id} order by id desc limit 1`,
    );
    expect(audited!.after.excludedMembers[0]!.reason).toContain("Moved to sales");

    // The user's page lists it; a reviewer cannot lift it; an admin can, audited; once only.
    expect((await listUserExclusions(bob!)).map((e) => [e.kind, e.groupName, e.reason, e.reviewName, e.liftedAt])).toEqual([["member", "Payments", "Moved to sales", review.name, null]]);
    const reviewer = await realMemberCtx("reviewer");
    expect((await liftExclusion(reviewer, exclusion!.id).catch((e) => e)).message).toBe("A reviewer cannot change memberships.");
    const devAdmin = await realMemberCtx("environment_admin", [f.envs.dev.id]);
    expect((await liftExclusion(devAdmin, exclusion!.id).catch((e) => e)).message).toBe("This change touches an environment outside your scope.");
    const admin = await realMemberCtx("admin");
    await liftExclusion(admin, exclusion!.id);
    expect((await liftExclusion(admin, exclusion!.id).catch((e) => e)).message).toBe("This exclusion is already lifted.");
    const [lift] = await getDb().execute<{ actor_label: string; target_id: string; before: { reason: string } }>(sql`select actor_label, target_id, before from audit_events where action = 'membership_exclusion.lift'`);
    expect(lift).toMatchObject({ actor_label: admin.actor.label, target_id: bob, before: { reason: "Moved to sales" } });
    expect((await listUserExclusions(bob!))[0]!.liftedBy).toBe(admin.actor.label);

    await scim.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: bob }] }] });
    expect(await membersOf(group.id)).toEqual([`${ann}:scim`, `${bob}:scim`, `${cat}:scim`].sort());
    log = await logEntries(scim.directory.id);
    expect(log.at(-1)!.change!.excludedMembers).toBeUndefined();
  });

  it("a revoked manual membership is excluded from every sync: a directory's group PATCH does not add it back", async () => {
    const scim = await scimClient(f.envs.prod);
    const dan = (await scim.call("POST", "/Users", { userName: `dan.${scim.directory.id.slice(0, 6)}@corp.example` })).body.id as string;
    const group = (await scim.call("POST", "/Groups", { displayName: `Mixed ${crypto.randomUUID().slice(0, 6)}` })).body;
    // An admin adds Dan by hand to the directory's group.
    await addMembers(systemCtx, { groupId: group.id, userIds: [dan] });
    const { summary } = await reviewAndRevoke({ groupIds: [group.id] }, (i) => i.userId === dan, "Not needed");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, dan));
    expect(exclusion).toMatchObject({ kind: "member", source: "manual", directoryId: null, identityProviderId: null, reason: "Not needed" });
    expect((await scim.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: dan }] }] })).status).toBe(200);
    expect(await membersOf(group.id)).toEqual([]);
  });
});

describe("exclusions from an IdP's sync (SAML)", () => {
  const identity = (email: string, groupValues: string[]) => ({ subject: email, attributes: { email: [email], name: ["Saml User"], groups: groupValues } });

  it("a revoked SAML membership is left out of the next sign-in's group sync (the trace says why); lifted, the next sign-in adds it", async () => {
    const engineering = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Engineering" });
    const design = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Design" });
    const first = await f.signIn(identity("saml.excluded@example.com", ["Engineering"]));
    if (!first.ok) throw new Error(first.reason);
    const userId = first.user.id;
    expect(await membersOf(engineering.id)).toEqual([`${userId}:saml`]);

    const { summary } = await reviewAndRevoke({ groupIds: [engineering.id] }, (i) => i.userId === userId, "No longer an engineer");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, userId));
    expect(exclusion).toMatchObject({ kind: "member", source: "saml", identityProviderId: f.idp.id, directoryId: null });

    // The IdP still asserts Engineering (and now Design): Design is added, Engineering left out.
    const second = await f.signIn(identity("saml.excluded@example.com", ["Engineering", "Design"]));
    if (!second.ok) throw new Error(second.reason);
    expect(await membersOf(engineering.id)).toEqual([]);
    expect(await membersOf(design.id)).toEqual([`${userId}:saml`]);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, second.traceId));
    expect(trace!.result).toMatchObject({ groupsAdded: ["Design"], groupsExcluded: [expect.stringContaining("No longer an engineer")] });

    await liftExclusion(await realMemberCtx("admin"), exclusion!.id);
    const third = await f.signIn(identity("saml.excluded@example.com", ["Engineering", "Design"]));
    if (!third.ok) throw new Error(third.reason);
    expect(await membersOf(engineering.id)).toEqual([`${userId}:saml`]);
  });
});

describe("what an admin granted by hand, revoked in a review", () => {
  const identity = (email: string, groupValues: string[]) => ({ subject: email, attributes: { email: [email], name: ["Hand Made"], groups: groupValues } });

  it("a hand-made membership is not added back by the IdP's group sync asserting that group (the trace says why)", async () => {
    const finance = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Finance" });
    const first = await f.signIn(identity("hand.member@example.com", []));
    if (!first.ok) throw new Error(first.reason);
    const userId = first.user.id;
    await addMembers(systemCtx, { groupId: finance.id, userIds: [userId] });
    const { summary } = await reviewAndRevoke({ groupIds: [finance.id] }, (i) => i.userId === userId, "Left finance");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    const again = await f.signIn(identity("hand.member@example.com", ["Finance"]));
    if (!again.ok) throw new Error(again.reason);
    expect(await membersOf(finance.id)).toEqual([]);
    const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, again.traceId));
    expect(trace!.result).toMatchObject({ groupsExcluded: [expect.stringContaining("Left finance")] });
  });

  it("a JIT default group a review took the user out of is not joined again when JIT grants the environment anew (the trace says why)", async () => {
    const contractors = await createGroup(systemCtx, { environmentId: f.envs.prod.id, name: "Contractors" });
    const settings = await getEnvironmentAuth(f.envs.prod.id);
    await updateEnvironmentAuth(systemCtx, f.envs.prod.id, { ...settings, jitGroupIds: [contractors.id], expectedVersion: undefined });
    try {
      const first = await f.signIn(identity("jit.default@example.com", []));
      if (!first.ok) throw new Error(first.reason);
      const userId = first.user.id;
      expect(await membersOf(contractors.id)).toEqual([`${userId}:manual`]);
      const { summary } = await reviewAndRevoke({ groupIds: [contractors.id] }, (i) => i.userId === userId, "Contract ended");
      expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
      // The environment is revoked by hand (no access exclusion), and the next sign-in's JIT grants it again…
      await revokeEnvironment(systemCtx, { userId, environmentId: f.envs.prod.id });
      const again = await f.signIn(identity("jit.default@example.com", []));
      if (!again.ok) throw new Error(again.reason);
      // …without the default group the review took away.
      expect(await membersOf(contractors.id)).toEqual([]);
      const [trace] = await getDb().select().from(ssoTraces).where(eq(ssoTraces.id, again.traceId));
      expect(trace!.result).toMatchObject({ groupsExcluded: [expect.stringContaining("Contract ended")] });
    } finally {
      await updateEnvironmentAuth(systemCtx, f.envs.prod.id, { ...settings, jitGroupIds: [], expectedVersion: undefined });
    }
  });

  it("hand-granted access is not granted back by JIT at the next SSO sign-in", async () => {
    const hand = await createVerifiedUser(systemCtx, { name: "Hand Granted", email: "hand.granted@example.com", environmentIds: [f.envs.prod.id] });
    const first = await f.signIn(identity("hand.granted@example.com", []));
    expect(first.ok && first.user.id).toBe(hand.id);
    const { summary } = await reviewAndRevoke({ environmentAccess: true }, (i) => i.userId === hand.id, "No longer needs PROD");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, hand.id));
    expect(exclusion).toMatchObject({ kind: "access", source: "manual" });
    const again = await f.signIn(identity("hand.granted@example.com", []));
    expect(again).toMatchObject({ ok: false, check: "excluded", reason: expect.stringContaining("No longer needs PROD") });
  });
});

describe("environment-access reviews", () => {
  it("items are the users who may enter; revoking removes the access through the users' domain, and a JIT access is not granted back at sign-in", async () => {
    const first = await f.signIn({ subject: "jit.access@example.com", attributes: { email: ["jit.access@example.com"], name: ["Jit Access"], groups: [] } });
    if (!first.ok) throw new Error(first.reason);
    const userId = first.user.id;
    const { items, summary, review } = await reviewAndRevoke({ environmentAccess: true }, (i) => i.userId === userId, "Contractor left");
    expect(items.every((i) => i.kind === "access")).toBe(true);
    const [left] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from environment_access where environment_id = ${f.envs.prod.id}`);
    // The campaign was fixed at creation with everyone who could enter; one is gone now.
    expect(items.length).toBe(left!.n + 1);
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    expect(await getDb().select().from(environmentAccess).where(and(eq(environmentAccess.userId, userId), eq(environmentAccess.environmentId, f.envs.prod.id)))).toEqual([]);
    // Revoked as the closer, by the users' domain function (its audit action).
    const [revoked] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where action = 'user.environment.revoke' and target_id = ${userId}`);
    expect(revoked!.n).toBe(1);
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, userId));
    expect(exclusion).toMatchObject({ kind: "access", groupId: null, source: "jit", identityProviderId: f.idp.id, reviewId: review.id });

    const again = await f.signIn({ subject: "jit.access@example.com", attributes: { email: ["jit.access@example.com"], name: ["Jit Access"], groups: [] } });
    expect(again.ok).toBe(false);
    if (again.ok) return;
    expect(again.check).toBe("excluded");
    expect(again.reason).toContain("Contractor left");

    await liftExclusion(await realMemberCtx("admin"), exclusion!.id);
    const lifted = await f.signIn({ subject: "jit.access@example.com", attributes: { email: ["jit.access@example.com"], name: ["Jit Access"], groups: [] } });
    expect(lifted.ok).toBe(true);
  });

  it("a revoked SCIM-owned access is not granted back when the directory deactivates and reactivates the user; the trail says why", async () => {
    const scim = await scimClient(f.envs.prod);
    const eve = (await scim.call("POST", "/Users", { userName: `eve.${scim.directory.id.slice(0, 6)}@corp.example`, displayName: "eve" })).body.id as string;
    const { summary } = await reviewAndRevoke({ environmentAccess: true }, (i) => i.userId === eve, "Left the company");
    expect(summary).toMatchObject({ revoked: 1, excluded: 1 });
    const [exclusion] = await getDb().select().from(membershipExclusions).where(eq(membershipExclusions.userId, eve));
    expect(exclusion).toMatchObject({ kind: "access", source: "scim", directoryId: scim.directory.id });
    const access = () => getDb().select().from(environmentAccess).where(and(eq(environmentAccess.userId, eve), eq(environmentAccess.environmentId, f.envs.prod.id)));
    expect((await scim.call("PATCH", `/Users/${eve}`, { Operations: [{ op: "replace", path: "active", value: false }] })).status).toBe(200);
    expect((await scim.call("PATCH", `/Users/${eve}`, { Operations: [{ op: "replace", path: "active", value: true }] })).status).toBe(200);
    expect(await access()).toEqual([]);
    const [held] = await getDb().execute<{ after: { reason: string } }>(sql`select after from audit_events where action = 'user.environment.grant_excluded' and target_id = ${eve}`);
    expect(held!.after.reason).toContain("Left the company");
    await liftExclusion(await realMemberCtx("admin"), exclusion!.id);
    await scim.call("PATCH", `/Users/${eve}`, { Operations: [{ op: "replace", path: "active", value: false }] });
    await scim.call("PATCH", `/Users/${eve}`, { Operations: [{ op: "replace", path: "active", value: true }] });
    expect(await access()).toHaveLength(1);
  });

  it("a campaign over environment access needs no groups or resources; other scopes still do", async () => {
    const owner = await realMemberCtx("owner");
    const bad = await createAccessReview(owner, { environmentId: f.envs.prod.id, name: "x", scope: "groups", scopeIds: [], reviewerIds: [owner.actor.id], dueAt: tomorrow() }).catch((e) => e);
    expect(bad.fieldErrors).toEqual({ scopeIds: ["Choose at least one group or resource."] });
    const badScope = await createAccessReview(owner, { environmentId: f.envs.prod.id, name: "x", scope: "everything", reviewerIds: [owner.actor.id], dueAt: tomorrow() }).catch((e) => e);
    expect(badScope.fieldErrors).toEqual({ scope: ["Review groups, resources or environment access."] });
    const ok = await createAccessReview(owner, { environmentId: f.envs.prod.id, name: "Who may enter PROD", scope: "environment_access", reviewerIds: [owner.actor.id], dueAt: tomorrow() });
    expect(ok.scopeIds).toEqual([]);
  });
});
