import { beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import { parse } from "csv-parse/sync";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { addGrants, listGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { verifyAuditTrail, sealAuditTrail } from "@/lib/audit/chain";
import { addMembers, createGroup, removeMembers } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { closeAccessReview, createAccessReview, decideReviewItems, getAccessReview, listAccessReviews, reviewReport } from ".";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const tomorrow = () => new Date(Date.now() + 86_400_000).toISOString();
const members = async (groupId: string) =>
  (await getDb().execute<{ email: string }>(sql`select u.email from group_members m join users u on u.id = m.user_id where m.group_id = ${groupId} order by 1`)).map((r) => r.email);

async function payments() {
  const id = crypto.randomUUID().slice(0, 6);
  const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Payments ${id}` });
  const people = [];
  for (const name of ["ann", "bob", "cat"]) people.push(await createUser(systemCtx, { name, email: `${name}.${id}@example.com`, environmentIds: [env.prod.id] }));
  await addMembers(systemCtx, { groupId: group.id, userIds: people.map((p) => p.id) });
  return { id, group, people };
}

describe("access reviews", () => {
  it("a campaign over a group: reviewers decide, progress shows, closing revokes through the domain and keeps a signed-off report", async () => {
    const { group, people } = await payments();
    const [ann, bob, cat] = people;
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: "Q4 payments", scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: tomorrow() });
    const loaded = (await getAccessReview(env.prod.id, review.id))!;
    expect(loaded.items.map((i) => [i.kind, i.userEmail, i.groupName])).toEqual(people.map((p) => ["membership", p!.email, group.name]));
    expect(loaded.review).toMatchObject({ total: 3, decided: 0, status: "open", reviewers: [{ id: reviewer.actor.id }] });

    const item = (email: string) => loaded.items.find((i) => i.userEmail === email)!.id;
    // A revoke needs a reason; only assigned reviewers decide (not even the owner who created it).
    const noReason = await decideReviewItems(reviewer, { reviewId: review.id, itemIds: [item(bob!.email)], decision: "revoke" }).catch((e) => e);
    expect(noReason.fieldErrors).toEqual({ comment: ["Say why this access should be revoked."] });
    const notAssigned = await decideReviewItems(owner, { reviewId: review.id, itemIds: [item(ann!.email)], decision: "keep" }).catch((e) => e);
    expect(notAssigned.message).toBe("Only this review's assigned reviewers can decide its items.");
    const otherReview = await decideReviewItems(reviewer, { reviewId: review.id, itemIds: [crypto.randomUUID()], decision: "keep" }).catch((e) => e);
    expect(otherReview.fieldErrors).toEqual({ itemIds: ["Some items are not part of this review."] });

    await decideReviewItems(reviewer, { reviewId: review.id, itemIds: [item(ann!.email)], decision: "keep", comment: "Still on the team" });
    await decideReviewItems(reviewer, { reviewId: review.id, itemIds: [item(bob!.email)], decision: "revoke", comment: "Moved to sales" });
    expect((await listAccessReviews(env.prod.id)).find((r) => r.id === review.id)).toMatchObject({ total: 3, decided: 2, revoke: 1 });
    // Deciding changed no access.
    expect(await members(group.id)).toEqual([ann!.email, bob!.email, cat!.email]);

    // The reviewer cannot close; the owner can.
    const refused = await closeAccessReview(reviewer, review.id).catch((e) => e);
    expect(refused.message).toBe("A reviewer cannot change access reviews.");
    const summary = await closeAccessReview(owner, review.id);
    expect(summary).toMatchObject({ revoked: 1, alreadyGone: 0, kept: 1, undecided: 1 });
    expect(await members(group.id)).toEqual([ann!.email, cat!.email]);

    // The report: one row per item, who decided what, the outcome, the sign-off; its hash is in the chained audit event.
    const report = (await reviewReport(env.prod.id, review.id))!;
    expect(createHash("sha256").update(report.csv).digest("hex")).toBe(report.sha256);
    const rows = parse(report.csv, { columns: true }) as Record<string, string>[];
    expect(rows.map((r) => [r.user_email, r.decision, r.comment, r.decided_by, r.outcome, r.signed_off_by])).toEqual([
      [ann!.email, "keep", "Still on the team", reviewer.actor.label, "kept", owner.actor.label],
      [bob!.email, "revoke", "Moved to sales", reviewer.actor.label, "revoked", owner.actor.label],
      [cat!.email, "", "", "", "no decision (kept)", owner.actor.label],
    ]);
    const [closeEvent] = await getDb().execute<{ after: { reportSha256: string } }>(sql`select after from audit_events where action = 'access_review.close' and target_id = ${review.id}`);
    expect(closeEvent!.after.reportSha256).toBe(report.sha256);
    // The revocation was audited by the membership domain, as the owner.
    const [removal] = await getDb().execute<{ actor_label: string; after: { removed: string[] } }>(
      sql`select actor_label, after from audit_events where action = 'group.members.remove' and target_id = ${group.id} order by id desc limit 1`,
    );
    expect(removal).toEqual({ actor_label: owner.actor.label, after: expect.objectContaining({ removed: [bob!.id] }) });
    await sealAuditTrail();
    expect((await verifyAuditTrail()).ok).toBe(true);

    // Closed means final.
    const again = await closeAccessReview(owner, review.id).catch((e) => e);
    expect(again.message).toBe("This review is already closed.");
    const late = await decideReviewItems(reviewer, { reviewId: review.id, itemIds: [item(cat!.email)], decision: "keep" }).catch((e) => e);
    expect(late.message).toBe("This review is closed; its decisions are final.");
  });

  it("a campaign over resources reviews their grants; a revoked grant already removed is reported as such", async () => {
    const { group, people } = await payments();
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: `Review genie ${group.id.slice(0, 6)}` });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id], userIds: [people[0]!.id] });
    const owner = await realMemberCtx("owner");
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: "Genie grants", scope: "resources", scopeIds: [genie.id], reviewerIds: [owner.actor.id], dueAt: tomorrow() });
    const { items } = (await getAccessReview(env.prod.id, review.id))!;
    expect(items.map((i) => [i.kind, i.groupName ?? i.userEmail, i.resourceName]).sort()).toEqual(
      [
        ["grant", group.name, genie.name],
        ["grant", people[0]!.email, genie.name],
      ].sort(),
    );
    await decideReviewItems(owner, { reviewId: review.id, itemIds: items.map((i) => i.id), decision: "revoke", comment: "Genie retired" });
    // Someone removes the user's grant by hand before the campaign closes.
    const userGrant = items.find((i) => i.userId)!;
    const { removeGrant } = await import("@/lib/access/grants");
    await removeGrant(systemCtx, userGrant.grantId!);
    expect(await closeAccessReview(owner, review.id)).toMatchObject({ revoked: 1, alreadyGone: 1 });
    expect(await listGrants({ environmentId: env.prod.id, resourceId: genie.id })).toEqual([]);
    // The revocation is audited as the closer, with the grant's label.
    const audited = await getDb().execute<{ target_label: string }>(
      sql`select target_label from audit_events where action = 'access_grant.delete' and actor_id = ${owner.actor.id}`,
    );
    expect(audited.map((a) => a.target_label)).toEqual([`group ${group.name} → ${genie.name}`]);
  });

  it("refuses bad campaigns with field errors and writes nothing; an environment admin works only in their environments", async () => {
    const { group } = await payments();
    const owner = await realMemberCtx("owner");
    const before = await countRows("access_reviews");
    const bad = (input: object) => createAccessReview(owner, { environmentId: env.prod.id, name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [owner.actor.id], dueAt: tomorrow(), ...input }).catch((e) => e);
    expect((await bad({ name: " " })).fieldErrors).toEqual({ name: ["Name the review."] });
    expect((await bad({ dueAt: "2020-01-01" })).fieldErrors).toEqual({ dueAt: ["The due date must be in the future."] });
    expect((await bad({ scopeIds: [] })).fieldErrors).toEqual({ scopeIds: ["Choose at least one group or resource."] });
    expect((await bad({ reviewerIds: [crypto.randomUUID()] })).fieldErrors).toEqual({ reviewerIds: ["Every reviewer must be an active console member."] });
    const devGroup = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Dev ${crypto.randomUUID().slice(0, 6)}` });
    expect((await bad({ scopeIds: [devGroup.id] })).fieldErrors).toEqual({ scopeIds: ["Every group must belong to PROD."] });
    const [everyone] = await getDb().execute<{ id: string }>(sql`select id from groups where environment_id = ${env.prod.id} and source = 'system'`);
    expect((await bad({ scopeIds: [everyone!.id] })).fieldErrors).toEqual({ scopeIds: ["Everyone follows environment access and is not reviewed as a group."] });
    const devAdmin = await realMemberCtx("environment_admin", [env.dev.id]);
    const outside = await createAccessReview(devAdmin, { environmentId: env.prod.id, name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [owner.actor.id], dueAt: tomorrow() }).catch((e) => e);
    expect(outside.message).toBe("This change touches an environment outside your scope.");
    expect(await countRows("access_reviews")).toBe(before);

    // Closing someone else's environment's campaign is refused the same way.
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: "Scoped", scope: "groups", scopeIds: [group.id], reviewerIds: [devAdmin.actor.id], dueAt: tomorrow() });
    const close = await closeAccessReview(devAdmin, review.id).catch((e) => e);
    expect(close.message).toBe("This change touches an environment outside your scope.");
    // Membership removals elsewhere keep the campaign's fixed items.
    await removeMembers(systemCtx, { groupId: group.id, userIds: [(await getAccessReview(env.prod.id, review.id))!.items[0]!.userId!] });
    expect((await getAccessReview(env.prod.id, review.id))!.items).toHaveLength(3);
  });
  it("a reviewer does not decide on their own access (the same person by email): another reviewer must", async () => {
    const { group } = await payments();
    const reviewer = await realMemberCtx("reviewer");
    const me = await createUser(systemCtx, { name: "Me", email: reviewer.actor.label.toUpperCase(), environmentIds: [env.prod.id] });
    await addMembers(systemCtx, { groupId: group.id, userIds: [me.id] });
    const owner = await realMemberCtx("owner");
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: `Self ${group.id.slice(0, 6)}`, scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: tomorrow() });
    const { items } = (await getAccessReview(env.prod.id, review.id))!;
    const own = items.find((i) => i.userId === me.id)!;
    const others = items.filter((i) => i.userId !== me.id);
    await expect(decideReviewItems(reviewer, { reviewId: review.id, itemIds: [others[0]!.id, own.id], decision: "keep", comment: "" })).rejects.toThrow(
      `You cannot decide on your own access (${me.email}): another reviewer must.`,
    );
    const [undecided] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from access_review_items where review_id = ${review.id} and decision is not null`);
    expect(undecided!.n).toBe(0);
    expect(await decideReviewItems(reviewer, { reviewId: review.id, itemIds: others.map((i) => i.id), decision: "keep", comment: "" })).toEqual({ decided: others.length });
  });

  it("a revoke applies to what was reviewed: a membership removed and added again since the campaign began stays, and the report says why", async () => {
    const { group, people } = await payments();
    const [ann, bob] = people;
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: `Later ${group.id.slice(0, 6)}`, scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: tomorrow() });
    const { items } = (await getAccessReview(env.prod.id, review.id))!;
    const revoke = items.filter((i) => i.userId === ann!.id || i.userId === bob!.id);
    await decideReviewItems(reviewer, { reviewId: review.id, itemIds: revoke.map((i) => i.id), decision: "revoke", comment: "old role" });
    // Meanwhile an admin removes Bob and adds him back (a new approval): a later change.
    await removeMembers(systemCtx, { groupId: group.id, userIds: [bob!.id] });
    await addMembers(systemCtx, { groupId: group.id, userIds: [bob!.id] });
    const summary = await closeAccessReview(owner, review.id);
    expect(summary).toMatchObject({ revoked: 1 });
    expect(await members(group.id)).toEqual([bob!.email, people[2]!.email].sort());
    const report = parse((await reviewReport(env.prod.id, review.id))!.csv, { columns: true }) as { user_email: string; outcome: string }[];
    expect(report.find((r) => r.user_email === bob!.email)!.outcome).toBe("not revoked: added again after the review began (a later change, not the one reviewed)");
    expect(report.find((r) => r.user_email === ann!.email)!.outcome).toBe("revoked");
  });
  it("a reviewer does not decide on a grant to a group they are in (their own access, through the group)", async () => {
    const reviewer = await realMemberCtx("reviewer");
    const me = await createUser(systemCtx, { name: "Me Again", email: reviewer.actor.label, environmentIds: [env.prod.id] });
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Mine ${crypto.randomUUID().slice(0, 6)}` });
    await addMembers(systemCtx, { groupId: group.id, userIds: [me.id] });
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: `Genie ${group.id.slice(0, 6)}` });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
    const owner = await realMemberCtx("owner");
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: `Own group ${group.id.slice(0, 6)}`, scope: "resources", scopeIds: [genie.id], reviewerIds: [reviewer.actor.id], dueAt: tomorrow() });
    const { items } = (await getAccessReview(env.prod.id, review.id))!;
    const grant = items.find((i) => i.groupId === group.id)!;
    await expect(decideReviewItems(reviewer, { reviewId: review.id, itemIds: [grant.id], decision: "keep", comment: "" })).rejects.toThrow(`You cannot decide on your own access (${group.name}): another reviewer must.`);
  });
});
