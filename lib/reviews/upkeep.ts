import "server-only";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { accessReviewItems, accessReviewReviewers, accessReviews, consoleMembers, environments, groups, resources } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { registerJobHandler } from "@/lib/jobs";
import { sendMail, type Mail } from "@/lib/mail";
import { createReviewIn, reviewerMail, upkeepCtx } from ".";

// The access reviews' upkeep, a background job (kind access_review_upkeep) queued every hour by
// the SSO maintenance tick and when a recurring campaign closes:
// - reminders: each open campaign's reviewers get one mail 3 days before the due date and one on
//   the day (the last 24 hours, or overdue and never reminded), unless every item is decided. A reminder is claimed by setting
//   its column with `… is null` in the update, so two runs (two instances) send it once; the mail
//   goes out after the commit (at most once).
// - recurrence: a campaign that repeats every N months, once closed or due, gets its next one
//   (same environment, scope, reviewers and name; its items fixed now, as any campaign's), due N
//   months after it; `next_id` is set in the same transaction, so the next run finds nothing to do.

async function undecidedCounts(executor: Executor, reviewIds: string[]): Promise<Map<string, number>> {
  if (reviewIds.length === 0) return new Map();
  const rows = await executor
    .select({ reviewId: accessReviewItems.reviewId, n: sql<number>`count(*)::int` })
    .from(accessReviewItems)
    .where(and(inArray(accessReviewItems.reviewId, reviewIds), isNull(accessReviewItems.decision)))
    .groupBy(accessReviewItems.reviewId);
  return new Map(rows.map((r) => [r.reviewId, r.n]));
}

/** Sends the reminders that are due; returns how many campaigns were reminded, by kind. */
export async function sendReviewReminders(ctx: DomainContext = upkeepCtx): Promise<{ soon: number; due: number }> {
  const mails: Mail[] = [];
  const counts = await getDb().transaction(async (tx) => {
    const soon = await tx.execute<{ id: string }>(sql`
      update access_reviews set reminded_soon_at = now()
      where status = 'open' and reminded_soon_at is null and reminded_due_at is null
        and due_at <= now() + interval '3 days' and due_at > now() + interval '1 day'
      returning id`);
    const due = await tx.execute<{ id: string }>(sql`
      update access_reviews set reminded_due_at = now()
      where status = 'open' and reminded_due_at is null and due_at <= now() + interval '1 day'
      returning id`);
    const claimed = [...soon.map((r) => ({ id: r.id, kind: "soon" as const })), ...due.map((r) => ({ id: r.id, kind: "due" as const }))];
    if (claimed.length === 0) return { soon: 0, due: 0 };
    const ids = claimed.map((c) => c.id);
    const reviews = await tx
      .select({ review: accessReviews, envKey: environments.key, envName: environments.name })
      .from(accessReviews)
      .innerJoin(environments, eq(environments.id, accessReviews.environmentId))
      .where(inArray(accessReviews.id, ids));
    const reviewers = await tx
      .select({ reviewId: accessReviewReviewers.reviewId, id: consoleMembers.id, email: consoleMembers.email, name: consoleMembers.name })
      .from(accessReviewReviewers)
      .innerJoin(consoleMembers, eq(consoleMembers.id, accessReviewReviewers.memberId))
      .where(and(inArray(accessReviewReviewers.reviewId, ids), eq(consoleMembers.status, "active")));
    const undecided = await undecidedCounts(tx, ids);
    for (const c of claimed) {
      const { review, envKey, envName } = reviews.find((r) => r.review.id === c.id)!;
      // Nothing left to decide: no reminder (the campaign waits for its closing, not its reviewers).
      const left = undecided.get(c.id) ?? 0;
      const to = left > 0 ? reviewers.filter((r) => r.reviewId === c.id) : [];
      for (const r of to) mails.push(reviewerMail(r, review, { key: envKey, name: envName }, c.kind, left));
      await recordAudit(tx, ctx, {
        action: "access_review.remind",
        targetType: "access_review",
        targetId: review.id,
        targetLabel: review.name,
        environment: { id: review.environmentId, key: envKey },
        after: { reminder: c.kind === "soon" ? "3 days before" : "due date", reviewers: to.map((r) => r.email), undecided: left },
      });
    }
    return { soon: soon.length, due: due.length };
  });
  for (const mail of mails) await sendMail(mail);
  return counts;
}

/** N calendar months later (UTC), at the same time of day; the 31st becomes the month's last day (Jan 31 + 1 = Feb 28/29). */
export function addMonths(date: Date, months: number): Date {
  const next = new Date(date);
  next.setUTCDate(1);
  next.setUTCMonth(next.getUTCMonth() + months);
  const lastDay = new Date(Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 0)).getUTCDate();
  next.setUTCDate(Math.min(date.getUTCDate(), lastDay));
  return next;
}

/** Creates the next campaign of each recurring one that closed or reached its due date. */
export async function createRecurringReviews(ctx: DomainContext = upkeepCtx): Promise<{ created: number; stopped: number }> {
  const mails: Mail[] = [];
  const result = await getDb().transaction(async (tx) => {
    const due = await tx
      .select()
      .from(accessReviews)
      .where(sql`${accessReviews.recurrenceMonths} is not null and ${accessReviews.nextId} is null and (${accessReviews.status} = 'closed' or ${accessReviews.dueAt} <= now())`)
      .for("update", { skipLocked: true });
    let created = 0;
    let stopped = 0;
    for (const previous of due) {
      const env = { id: previous.environmentId };
      const months = previous.recurrenceMonths!;
      // The next due date: N months after this one's, moved on until it is in the future.
      let periods = 1;
      let dueAt = addMonths(previous.dueAt, months);
      while (dueAt.getTime() <= Date.now()) dueAt = addMonths(previous.dueAt, months * ++periods);
      const reviewerIds = (
        await tx
          .select({ id: consoleMembers.id })
          .from(accessReviewReviewers)
          .innerJoin(consoleMembers, eq(consoleMembers.id, accessReviewReviewers.memberId))
          .where(and(eq(accessReviewReviewers.reviewId, previous.id), eq(consoleMembers.status, "active")))
      ).map((r) => r.id);
      // What still exists of the scope (a group or resource deleted since leaves the series).
      const scopeIds =
        previous.scope === "groups"
          ? (await tx.select({ id: groups.id }).from(groups).where(and(inArray(groups.id, previous.scopeIds.length ? previous.scopeIds : [crypto.randomUUID()]), eq(groups.environmentId, env.id)))).map((g) => g.id)
          : previous.scope === "resources"
            ? (await tx.select({ id: resources.id }).from(resources).where(and(inArray(resources.id, previous.scopeIds.length ? previous.scopeIds : [crypto.randomUUID()]), eq(resources.environmentId, env.id)))).map((r) => r.id)
            : [];
      const [envRow] = await tx.select({ key: environments.key }).from(environments).where(eq(environments.id, env.id));
      const stop = reviewerIds.length === 0 ? "none of its reviewers is an active console member" : previous.scope !== "environment_access" && scopeIds.length === 0 ? `none of its ${previous.scope} exists any more` : null;
      if (stop) {
        await tx.update(accessReviews).set({ recurrenceMonths: null }).where(eq(accessReviews.id, previous.id));
        await recordAudit(tx, ctx, {
          action: "access_review.recurrence_stop",
          targetType: "access_review",
          targetId: previous.id,
          targetLabel: previous.name,
          environment: { id: env.id, key: envRow!.key },
          before: { recurrenceMonths: months },
          after: { reason: `The series stops: ${stop}.` },
        });
        stopped++;
        continue;
      }
      const { review, mails: assigned } = await createReviewIn(
        tx,
        ctx,
        { environmentId: env.id, name: previous.name, scope: previous.scope, scopeIds, reviewerIds, dueAt, recurrenceMonths: months },
        previous,
      );
      await tx.update(accessReviews).set({ nextId: review.id }).where(eq(accessReviews.id, previous.id));
      await recordAudit(tx, ctx, {
        action: "access_review.recur",
        targetType: "access_review",
        targetId: previous.id,
        targetLabel: previous.name,
        environment: { id: env.id, key: envRow!.key },
        after: { next: review.id, dueAt: dueAt.toISOString(), recurrenceMonths: months },
      });
      mails.push(...assigned);
      created++;
    }
    return { created, stopped };
  });
  for (const mail of mails) await sendMail(mail);
  return result;
}

export type UpkeepSummary = { soon: number; due: number; created: number; stopped: number };

export async function runAccessReviewUpkeep(ctx: DomainContext = upkeepCtx): Promise<UpkeepSummary> {
  const recurring = await createRecurringReviews(ctx);
  const reminded = await sendReviewReminders(ctx);
  return { ...reminded, ...recurring };
}

registerJobHandler("access_review_upkeep", async (_job, ctx) => runAccessReviewUpkeep(ctx));
