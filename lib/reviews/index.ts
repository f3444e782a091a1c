import "server-only";
import { createHash } from "node:crypto";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import { FEATURE_LABELS, REVIEW_DECISIONS, REVIEW_SCOPES, type Feature } from "@/db/enums";
import {
  accessGrants,
  accessReviewItems,
  accessReviewReviewers,
  accessReviews,
  consoleMembers,
  groupMembers,
  groups,
  resources,
  users,
} from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { removeGrantsIn } from "@/lib/access/grants";
import { csvLines } from "@/lib/domain/csv";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { removeMembersIn } from "@/lib/groups";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Access reviews (certification campaigns). A campaign names an environment, what is reviewed
// (the memberships of some groups, or the grants on some resources), its reviewers and a due date.
// Its items are fixed when it is created. Assigned reviewers mark each item keep or revoke, with a
// comment (required to revoke). Closing applies every revocation through the domain functions
// (each audited), in one transaction with the closing itself, and keeps a signed-off CSV report
// whose SHA-256 goes into the closing audit event (so the hash chain vouches for the report).

export const createReviewInput = z.object({
  environmentId: uuidSchema,
  name: z.string({ error: "Name the review." }).trim().min(1, "Name the review.").max(120, "A name has at most 120 characters."),
  scope: z.enum(REVIEW_SCOPES, { error: "Review groups or resources." }),
  scopeIds: z.array(uuidSchema).min(1, "Choose at least one group or resource.").max(100, "At most 100 at once."),
  reviewerIds: z.array(uuidSchema).min(1, "Choose at least one reviewer.").max(50, "At most 50 reviewers."),
  dueAt: z.coerce
    .date({ error: "Enter a due date." })
    .refine((d) => !Number.isNaN(d.getTime()), "Enter a due date.")
    .refine((d) => d.getTime() > Date.now(), "The due date must be in the future."),
});

export const decideInput = z
  .object({
    reviewId: uuidSchema,
    itemIds: z.array(uuidSchema).min(1, "Choose at least one item.").max(1000, "At most 1,000 items at once."),
    decision: z.enum(REVIEW_DECISIONS, { error: "Choose keep or revoke." }),
    comment: z.string().trim().max(1000, "A comment has at most 1,000 characters.").default(""),
  })
  .refine((d) => d.decision !== "revoke" || d.comment.length > 0, { message: "Say why this access should be revoked.", path: ["comment"] });

export type Review = typeof accessReviews.$inferSelect;
export type ReviewItem = typeof accessReviewItems.$inferSelect;
export type ReviewSummary = Omit<Review, "reportCsv"> & { total: number; decided: number; revoke: number; overdue: boolean; reviewers: { id: string; name: string; email: string }[] };

async function lockReview(tx: Tx, reviewId: string): Promise<Review> {
  const [review] = await tx.select().from(accessReviews).where(eq(accessReviews.id, reviewId)).for("update");
  if (!review) throw new NotFoundError("Access review not found.");
  return review;
}

/** Creates a campaign and fixes its items: each membership of the groups, or each grant on the resources. */
export async function createAccessReview(ctx: DomainContext, input: unknown): Promise<Review> {
  const data = parseInput(createReviewInput, input);
  authorize(ctx.actor, "access_reviews", "write", [data.environmentId]);
  const scopeIds = [...new Set(data.scopeIds)];
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, data.environmentId);
    const reviewerIds = [...new Set(data.reviewerIds)];
    const reviewers = await tx
      .select({ id: consoleMembers.id })
      .from(consoleMembers)
      .where(and(inArray(consoleMembers.id, reviewerIds), eq(consoleMembers.status, "active")));
    if (reviewers.length !== reviewerIds.length) throw ValidationError.field("reviewerIds", "Every reviewer must be an active console member.");

    if (data.scope === "groups") {
      const found = await tx.select({ id: groups.id, source: groups.source }).from(groups).where(and(inArray(groups.id, scopeIds), eq(groups.environmentId, env.id)));
      if (found.length !== scopeIds.length) throw ValidationError.field("scopeIds", `Every group must belong to ${env.name}.`);
      if (found.some((g) => g.source === "system")) {
        throw ValidationError.field("scopeIds", "Everyone follows environment access and is not reviewed as a group.");
      }
    } else {
      const found = await tx.select({ id: resources.id }).from(resources).where(and(inArray(resources.id, scopeIds), eq(resources.environmentId, env.id)));
      if (found.length !== scopeIds.length) throw ValidationError.field("scopeIds", `Every resource must belong to ${env.name}.`);
    }

    const [review] = await tx
      .insert(accessReviews)
      .values({ environmentId: env.id, name: data.name, scope: data.scope, scopeIds, dueAt: data.dueAt, createdBy: ctx.actor.label })
      .returning();
    await tx.insert(accessReviewReviewers).values(reviewerIds.map((memberId) => ({ reviewId: review!.id, memberId })));
    const items =
      data.scope === "groups"
        ? await tx.execute(sql`
            insert into access_review_items (review_id, kind, user_id, group_id, user_email, user_name, group_name)
            select ${review!.id}, 'membership', u.id, g.id, u.email, u.name, g.name
            from ${groupMembers} m join ${users} u on u.id = m.user_id join ${groups} g on g.id = m.group_id
            where m.group_id in (${sql.join(scopeIds.map((id) => sql`${id}::uuid`), sql`, `)})
            returning id`)
        : await tx.execute(sql`
            insert into access_review_items (review_id, kind, grant_id, user_id, group_id, feature, resource_id, user_email, user_name, group_name, resource_name)
            select ${review!.id}, 'grant', a.id, a.user_id, a.group_id, a.feature, a.resource_id, u.email, u.name, g.name, r.name
            from ${accessGrants} a join ${resources} r on r.id = a.resource_id
              left join ${users} u on u.id = a.user_id left join ${groups} g on g.id = a.group_id
            where a.resource_id in (${sql.join(scopeIds.map((id) => sql`${id}::uuid`), sql`, `)})
            returning id`);
    await recordAudit(tx, ctx, {
      action: "access_review.create",
      targetType: "access_review",
      targetId: review!.id,
      targetLabel: review!.name,
      environment: env,
      after: { scope: data.scope, scopeIds, reviewerIds, dueAt: data.dueAt.toISOString(), items: items.length },
    });
    return review!;
  });
}

/** An assigned reviewer marks items keep or revoke (a revoke needs a comment). Changes no access. */
export async function decideReviewItems(ctx: DomainContext, input: unknown): Promise<{ decided: number }> {
  const data = parseInput(decideInput, input);
  authorize(ctx.actor, "review_decisions", "write");
  return inTransaction(async (tx) => {
    const review = await lockReview(tx, data.reviewId);
    if (review.status !== "open") throw new ConflictError("This review is closed; its decisions are final.");
    if (ctx.actor.type !== "system") {
      const [assigned] = await tx
        .select({ id: accessReviewReviewers.memberId })
        .from(accessReviewReviewers)
        .where(and(eq(accessReviewReviewers.reviewId, review.id), eq(accessReviewReviewers.memberId, ctx.actor.id)));
      if (!assigned) throw new ForbiddenError("Only this review's assigned reviewers can decide its items.");
    }
    const itemIds = [...new Set(data.itemIds)];
    const updated = await tx
      .update(accessReviewItems)
      .set({ decision: data.decision, comment: data.comment || null, decidedBy: ctx.actor.label, decidedAt: sql`now()` })
      .where(and(eq(accessReviewItems.reviewId, review.id), inArray(accessReviewItems.id, itemIds)))
      .returning({ id: accessReviewItems.id, userEmail: accessReviewItems.userEmail, groupName: accessReviewItems.groupName, resourceName: accessReviewItems.resourceName });
    if (updated.length !== itemIds.length) throw ValidationError.field("itemIds", "Some items are not part of this review.");
    const env = await requireEnvironment(tx, review.environmentId);
    await recordAudit(tx, ctx, {
      action: "access_review.decide",
      targetType: "access_review",
      targetId: review.id,
      targetLabel: review.name,
      environment: env,
      after: { decision: data.decision, comment: data.comment || null, items: updated.map((u) => [u.userEmail ?? u.groupName, u.groupName ?? u.resourceName].filter(Boolean).join(" · ")) },
    });
    return { decided: updated.length };
  });
}

export const REPORT_HEADER = [
  "review",
  "environment",
  "item",
  "user_email",
  "user_name",
  "group",
  "feature",
  "resource",
  "decision",
  "comment",
  "decided_by",
  "decided_at",
  "outcome",
  "signed_off_by",
  "signed_off_at",
];

/**
 * Closes a campaign: every "revoke" is applied (membership removed or grant deleted, each audited
 * by its domain function), undecided items are kept and reported as such, and the signed-off
 * report is stored with its SHA-256. All in one transaction: a crash leaves the campaign open
 * and nothing applied, and closing again is safe.
 */
export async function closeAccessReview(ctx: DomainContext, reviewId: string): Promise<{ revoked: number; alreadyGone: number; kept: number; undecided: number; sha256: string }> {
  const id = parseInput(uuidSchema, reviewId);
  authorize(ctx.actor, "access_reviews", "write", "any");
  return inTransaction(async (tx) => {
    const review = await lockReview(tx, id);
    authorize(ctx.actor, "access_reviews", "write", [review.environmentId]);
    if (review.status !== "open") throw new ConflictError("This review is already closed.");
    const env = await requireEnvironment(tx, review.environmentId);
    const items = await tx.select().from(accessReviewItems).where(eq(accessReviewItems.reviewId, id)).orderBy(asc(accessReviewItems.groupName), asc(accessReviewItems.userEmail));

    const outcome = new Map<string, string>();
    // Memberships: one removal per group (one audit row per group, as the console writes).
    const byGroup = new Map<string, ReviewItem[]>();
    for (const item of items.filter((i) => i.decision === "revoke" && i.kind === "membership")) byGroup.set(item.groupId!, [...(byGroup.get(item.groupId!) ?? []), item]);
    for (const [groupId, list] of byGroup) {
      // A group deleted since the campaign started: its memberships are already gone (the lookup
      // throws before any write, so the transaction goes on).
      const result = await removeMembersIn(tx, ctx, { groupId, userIds: list.map((i) => i.userId!) }).catch((error: unknown) => {
        if (error instanceof NotFoundError) return null;
        throw error;
      });
      const changed = new Set(result?.changed);
      for (const i of list) outcome.set(i.id, !result ? "already gone (group deleted)" : changed.has(i.userId!) ? "revoked" : "already gone");
    }
    const grantItems = items.filter((i) => i.decision === "revoke" && i.kind === "grant");
    const removed = await removeGrantsIn(tx, ctx, grantItems.map((i) => i.grantId!));
    for (const item of grantItems) outcome.set(item.id, removed.has(item.grantId!) ? "revoked" : "already gone");
    for (const item of items) if (!outcome.has(item.id)) outcome.set(item.id, item.decision === "keep" ? "kept" : "no decision (kept)");

    const [closed] = await tx.execute<{ now: string }>(sql`select now()::text as now`);
    const closedAt = new Date(closed!.now);
    const csv = csvLines([
      REPORT_HEADER,
      ...items.map((i) => [
        review.name,
        env.key,
        i.kind,
        i.userEmail ?? "",
        i.userName ?? "",
        i.groupName ?? "",
        i.feature ? FEATURE_LABELS[i.feature as Feature] : "",
        i.resourceName ?? "",
        i.decision ?? "",
        i.comment ?? "",
        i.decidedBy ?? "",
        i.decidedAt?.toISOString() ?? "",
        outcome.get(i.id)!,
        ctx.actor.label,
        closedAt.toISOString(),
      ]),
    ]);
    const sha256 = createHash("sha256").update(csv).digest("hex");
    await tx.execute(sql`
      update access_review_items i set outcome = o.outcome
      from (select unnest(${sql.param([...outcome.keys()])}::uuid[]) as id, unnest(${sql.param([...outcome.values()])}::text[]) as outcome) o
      where i.id = o.id`);
    await tx.update(accessReviews).set({ status: "closed", closedAt, closedBy: ctx.actor.label, reportCsv: csv, reportSha256: sha256 }).where(eq(accessReviews.id, id));
    const count = (prefix: string) => [...outcome.values()].filter((o) => o.startsWith(prefix)).length;
    const summary = { revoked: count("revoked"), alreadyGone: count("already gone"), kept: count("kept"), undecided: count("no decision") };
    await recordAudit(tx, ctx, { action: "access_review.close", targetType: "access_review", targetId: id, targetLabel: review.name, environment: env, after: { ...summary, reportSha256: sha256 } });
    return { ...summary, sha256 };
  });
}

/** The campaigns of an environment (or the one named), newest first, with progress. */
export async function listAccessReviews(environmentId: string, db: Executor = getDb(), reviewId?: string): Promise<ReviewSummary[]> {
  const rows = await db
    .select({
      review: accessReviews,
      total: sql<number>`(select count(*)::int from ${accessReviewItems} i where i.review_id = access_reviews.id)`,
      decided: sql<number>`(select count(*)::int from ${accessReviewItems} i where i.review_id = access_reviews.id and i.decision is not null)`,
      revoke: sql<number>`(select count(*)::int from ${accessReviewItems} i where i.review_id = access_reviews.id and i.decision = 'revoke')`,
      overdue: sql<boolean>`(${accessReviews.status} = 'open' and ${accessReviews.dueAt} < now())`,
      reviewers: sql<{ id: string; name: string; email: string }[]>`coalesce((select json_agg(json_build_object('id', m.id, 'name', m.name, 'email', m.email) order by m.name)
        from ${accessReviewReviewers} r join ${consoleMembers} m on m.id = r.member_id where r.review_id = access_reviews.id), '[]'::json)`,
    })
    .from(accessReviews)
    .where(and(eq(accessReviews.environmentId, environmentId), reviewId ? eq(accessReviews.id, reviewId) : undefined))
    .orderBy(desc(accessReviews.createdAt))
    .limit(200);
  return rows.map(({ review: { reportCsv: _csv, ...review }, ...rest }) => ({ ...review, ...rest }));
}

export async function getAccessReview(environmentId: string, reviewId: string, db: Executor = getDb()): Promise<{ review: ReviewSummary; items: ReviewItem[] } | null> {
  if (!uuidSchema.safeParse(reviewId).success) return null;
  const [review] = await listAccessReviews(environmentId, db, reviewId);
  if (!review) return null;
  const items = await db.select().from(accessReviewItems).where(eq(accessReviewItems.reviewId, reviewId)).orderBy(asc(accessReviewItems.groupName), asc(accessReviewItems.resourceName), asc(accessReviewItems.userEmail));
  return { review, items };
}

/** The signed-off report of a closed review (the CSV exactly as hashed at closing). */
export async function reviewReport(environmentId: string, reviewId: string, db: Executor = getDb()): Promise<{ name: string; csv: string; sha256: string } | null> {
  if (!uuidSchema.safeParse(reviewId).success) return null;
  const [row] = await db
    .select({ name: accessReviews.name, csv: accessReviews.reportCsv, sha256: accessReviews.reportSha256 })
    .from(accessReviews)
    .where(and(eq(accessReviews.id, reviewId), eq(accessReviews.environmentId, environmentId)));
  return row?.csv && row.sha256 ? { name: row.name, csv: row.csv, sha256: row.sha256 } : null;
}
