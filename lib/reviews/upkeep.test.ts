import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { accessReviews, emailOutbox, type Environment } from "@/db/schema";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { addMembers, createGroup, deleteGroup } from "@/lib/groups";
import { runPendingJobs } from "@/lib/jobs/worker";
import { createUser } from "@/lib/users";
import { closeAccessReview, createAccessReview, decideReviewItems, enqueueAccessReviewUpkeep, getAccessReview } from ".";

// Reviewer mails, reminders and recurring campaigns. The upkeep is a background job: the tests
// queue it and run the pending jobs (as the worker would), instead of waiting for the hourly tick.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const inHours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
const mailsTo = (memberId: string) => getDb().select().from(emailOutbox).where(eq(emailOutbox.consoleMemberId, memberId)).orderBy(emailOutbox.createdAt);
// As the hourly tick queues it: only when something is due.
async function flushUpkeep() {
  await enqueueAccessReviewUpkeep(undefined, { onlyIfDue: true });
  await runPendingJobs();
}

async function group() {
  const id = crypto.randomUUID().slice(0, 6);
  const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Team ${id}` });
  const u = await createUser(systemCtx, { name: `u ${id}`, email: `u.${id}@example.com`, environmentIds: [env.prod.id] });
  await addMembers(systemCtx, { groupId: g.id, userIds: [u.id] });
  return g;
}

describe("reviewer mails", () => {
  it("each reviewer gets a mail when assigned, through the outbox, addressed to the console member", async () => {
    const owner = await realMemberCtx("owner");
    const [a, b] = [await realMemberCtx("reviewer"), await realMemberCtx("reviewer")];
    const g = await group();
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: "Assigned mail", scope: "groups", scopeIds: [g.id], reviewerIds: [a.actor.id, b.actor.id], dueAt: inHours(24 * 10) });
    for (const r of [a, b]) {
      const mails = await mailsTo(r.actor.id!);
      expect(mails.map((m) => [m.to, m.subject])).toEqual([[r.actor.label, "Access review to do: Assigned mail (PROD)"]]);
      expect(mails[0]!.body).toContain(`/console/prod/reviews/${review.id}`);
      expect(mails[0]!.body).toContain("1 item to keep or revoke");
    }
  });

  it("reminds 3 days before the due date and on the day, once each, however often the job runs", async () => {
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const g = await group();
    // Due in two days: the 3-days-before reminder is due now, the day's one not yet.
    const review = await createAccessReview(owner, { environmentId: env.prod.id, name: "Reminded", scope: "groups", scopeIds: [g.id], reviewerIds: [reviewer.actor.id], dueAt: inHours(48) });
    await flushUpkeep();
    await flushUpkeep();
    expect((await mailsTo(reviewer.actor.id!)).map((m) => m.subject)).toEqual(["Access review to do: Reminded (PROD)", expect.stringMatching(/^Reminder: access review Reminded is due /)]);
    // The day comes (the test moves the due date, not the clock).
    await getDb().update(accessReviews).set({ dueAt: new Date(Date.now() + 3_600_000) }).where(eq(accessReviews.id, review.id));
    await flushUpkeep();
    await flushUpkeep();
    const subjects = (await mailsTo(reviewer.actor.id!)).map((m) => m.subject);
    expect(subjects).toHaveLength(3);
    expect(subjects[2]).toBe("Due today: access review Reminded");
    expect((await mailsTo(reviewer.actor.id!))[2]!.body).toContain("1 item is still undecided");
    const [audited] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where action = 'access_review.remind' and target_id = ${review.id}`);
    expect(audited!.n).toBe(2);
    // A campaign with nothing left to decide is not reminded.
    const decided = await createAccessReview(owner, { environmentId: env.prod.id, name: "All decided", scope: "groups", scopeIds: [g.id], reviewerIds: [reviewer.actor.id], dueAt: inHours(48) });
    await decideReviewItems(reviewer, { reviewId: decided.id, itemIds: (await getAccessReview(env.prod.id, decided.id))!.items.map((i) => i.id), decision: "keep" });
    await flushUpkeep();
    expect((await mailsTo(reviewer.actor.id!)).filter((m) => m.subject.includes("All decided")).map((m) => m.subject)).toEqual(["Access review to do: All decided (PROD)"]);
    // A closed campaign is not reminded.
    const closed = await createAccessReview(owner, { environmentId: env.prod.id, name: "Closed early", scope: "groups", scopeIds: [g.id], reviewerIds: [reviewer.actor.id], dueAt: inHours(2) });
    await closeAccessReview(owner, closed.id);
    await flushUpkeep();
    expect((await mailsTo(reviewer.actor.id!)).filter((m) => m.subject.includes("Closed early"))).toHaveLength(1);
  });
});

describe("the hourly tick", () => {
  it("queues no job when no reminder or next campaign is due, and one when something is", async () => {
    await runPendingJobs();
    const owner = await realMemberCtx("owner");
    const g = await group();
    await flushUpkeep();
    const later = await createAccessReview(owner, { environmentId: env.prod.id, name: "Not due yet", scope: "groups", scopeIds: [g.id], reviewerIds: [owner.actor.id], dueAt: inHours(24 * 20) });
    expect(await enqueueAccessReviewUpkeep(undefined, { onlyIfDue: true })).toBe(false);
    await getDb().update(accessReviews).set({ dueAt: new Date(Date.now() + 3_600_000) }).where(eq(accessReviews.id, later.id));
    expect(await enqueueAccessReviewUpkeep(undefined, { onlyIfDue: true })).toBe(true);
    // Not twice while one waits.
    expect(await enqueueAccessReviewUpkeep()).toBe(false);
    await runPendingJobs();
    expect(await enqueueAccessReviewUpkeep(undefined, { onlyIfDue: true })).toBe(false);
  });
});

describe("recurring campaigns", () => {
  it("closing a recurring campaign queues the job that creates the next one (same scope and reviewers, due N months later), once", async () => {
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const g = await group();
    const dueAt = inHours(24 * 5);
    const first = await createAccessReview(owner, { environmentId: env.prod.id, name: "Quarterly", scope: "groups", scopeIds: [g.id], reviewerIds: [reviewer.actor.id], dueAt, recurrenceMonths: 3 });
    expect(first.recurrenceMonths).toBe(3);
    await closeAccessReview(owner, first.id);
    expect(await runPendingJobs()).toBeGreaterThan(0);
    await flushUpkeep();
    const series = await getDb().select().from(accessReviews).where(eq(accessReviews.name, "Quarterly"));
    expect(series).toHaveLength(2);
    const [previous, next] = [series.find((r) => r.id === first.id)!, series.find((r) => r.id !== first.id)!];
    expect(previous.nextId).toBe(next.id);
    const expected = new Date(dueAt);
    expected.setUTCMonth(expected.getUTCMonth() + 3);
    expect(next).toMatchObject({ previousId: first.id, status: "open", scope: "groups", scopeIds: [g.id], recurrenceMonths: 3, dueAt: expected, createdBy: "access review upkeep" });
    const loaded = (await getAccessReview(env.prod.id, next.id))!;
    expect(loaded.review.reviewers.map((r) => r.id)).toEqual([reviewer.actor.id]);
    expect(loaded.items).toHaveLength(1);
    // Audited on both, and the reviewer was told.
    const actions = await getDb().execute<{ action: string }>(sql`select action from audit_events where target_id in (${first.id}, ${next.id}) order by id`);
    expect(actions.map((a) => a.action)).toEqual(["access_review.create", "access_review.close", "access_review.create", "access_review.recur"]);
    expect((await mailsTo(reviewer.actor.id!)).map((m) => m.subject)).toEqual(["Access review to do: Quarterly (PROD)", "Access review to do: Quarterly (PROD)"]);
  });

  it("a recurring campaign that reaches its due date open gets its next one too; a series whose groups are gone stops, audited", async () => {
    const owner = await realMemberCtx("owner");
    const g = await group();
    const open = await createAccessReview(owner, { environmentId: env.prod.id, name: "Monthly", scope: "groups", scopeIds: [g.id], reviewerIds: [owner.actor.id], dueAt: inHours(24 * 10), recurrenceMonths: 1 });
    await flushUpkeep();
    expect(await getDb().select().from(accessReviews).where(eq(accessReviews.name, "Monthly"))).toHaveLength(1);
    await getDb().update(accessReviews).set({ dueAt: new Date(Date.now() - 60_000) }).where(eq(accessReviews.id, open.id));
    await flushUpkeep();
    const series = await getDb().select().from(accessReviews).where(eq(accessReviews.name, "Monthly"));
    expect(series).toHaveLength(2);
    expect(series.find((r) => r.id !== open.id)!.dueAt.getTime()).toBeGreaterThan(Date.now());

    const gone = await group();
    const orphan = await createAccessReview(owner, { environmentId: env.prod.id, name: "Orphan", scope: "groups", scopeIds: [gone.id], reviewerIds: [owner.actor.id], dueAt: inHours(24), recurrenceMonths: 6 });
    await deleteGroup(systemCtx, gone.id);
    await closeAccessReview(owner, orphan.id);
    await flushUpkeep();
    expect(await getDb().select().from(accessReviews).where(eq(accessReviews.name, "Orphan"))).toHaveLength(1);
    const [stop] = await getDb().execute<{ after: { reason: string } }>(sql`select after from audit_events where action = 'access_review.recurrence_stop' and target_id = ${orphan.id}`);
    expect(stop!.after.reason).toBe("The series stops: none of its groups exists any more.");
  });

  it("refuses a recurrence outside 1–12 months with a field error, writing nothing", async () => {
    const owner = await realMemberCtx("owner");
    const g = await group();
    const before = await countRows("access_reviews");
    for (const recurrenceMonths of [0, 13, 1.5, "often"]) {
      const bad = await createAccessReview(owner, { environmentId: env.prod.id, name: "x", scope: "groups", scopeIds: [g.id], reviewerIds: [owner.actor.id], dueAt: inHours(24), recurrenceMonths }).catch((e) => e);
      expect(bad.fieldErrors).toEqual({ recurrenceMonths: ["Repeat every 1 to 12 months."] });
    }
    expect(await countRows("access_reviews")).toBe(before);
  });
});
