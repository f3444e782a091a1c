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
  environmentAccess,
  environmentAuth,
  groupMembers,
  groups,
  jobs,
  membershipExclusions,
  resources,
  users,
} from "@/db/schema";
import { SYSTEM_ACTOR, type DomainContext } from "@/lib/auth/actor";
import { personEmailOf } from "@/lib/auth/actor-person";
import { enqueueJob } from "@/lib/jobs";
import { recordAudit } from "@/lib/audit/record";
import { removeGrantsIn } from "@/lib/access/grants";
import { csvLines } from "@/lib/domain/csv";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { removeMembersIn } from "@/lib/groups";
import { insertExclusionRows, type ExclusionRow } from "@/lib/groups/exclusions";
import { revokeEnvironmentFromUsersIn } from "@/lib/users/bulk";
import { sendMail, type Mail } from "@/lib/mail";
import { authorize, OUTSIDE_SCOPE } from "@/lib/permissions";
import { publicOrigin } from "@/env";
import { dateTimeSchema, fromDigits, parseInput, uuidSchema } from "@/lib/validation";

// Access reviews (certification campaigns). A campaign names an environment, what is reviewed
// (the memberships of some groups, or the grants on some resources), its reviewers and a due date.
// Its items are fixed when it is created. Assigned reviewers mark each item keep or revoke, with a
// comment (required to revoke). Closing applies every revocation through the domain functions
// (each audited), in one transaction with the closing itself, and keeps a signed-off CSV report
// whose SHA-256 goes into the closing audit event (so the hash chain vouches for the report).

export const createReviewInput = z.object({
  environmentId: uuidSchema,
  name: z.string({ error: "Name the review." }).trim().min(1, "Name the review.").max(120, "A name has at most 120 characters."),
  scope: z.enum(REVIEW_SCOPES, { error: "Review groups, resources or environment access." }),
  // The groups or resources; none for environment access (the environment is the scope).
  scopeIds: z.array(uuidSchema).max(100, "At most 100 at once.").default([]),
  reviewerIds: z.array(uuidSchema).min(1, "Choose at least one reviewer.").max(50, "At most 50 reviewers."),
  dueAt: dateTimeSchema("Enter a due date (a day of the calendar, as 2027-03-31, up to year 9999).").refine((d) => d.getTime() > Date.now(), "The due date must be in the future."),
  // Repeat every N months (1–12) from this campaign's definition; empty: once.
  // A number, or its digits from a form; not true (which Number() reads as 1) nor [3].
  recurrenceMonths: z.preprocess(
    (v) => (v === "" || v === undefined || v === "none" ? null : fromDigits(v)),
    z.number({ error: "Repeat every 1 to 12 months." }).int("Repeat every 1 to 12 months.").min(1, "Repeat every 1 to 12 months.").max(12, "Repeat every 1 to 12 months.").nullable(),
  ),
}).refine((d) => d.scope === "environment_access" || d.scopeIds.length > 0, { message: "Choose at least one group or resource.", path: ["scopeIds"] });

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

type ReviewDefinition = z.output<typeof createReviewInput>;

/** The actor of the reviews' background upkeep (reminders, recurring campaigns: lib/reviews/upkeep.ts). */
export const upkeepCtx: DomainContext = { actor: { ...SYSTEM_ACTOR, label: "access review upkeep" } };

/**
 * Queues the upkeep job unless one is already waiting (the job is idempotent either way). The
 * hourly tick passes `onlyIfDue`: no job row when no reminder or next campaign is due.
 */
export async function enqueueAccessReviewUpkeep(executor: Executor = getDb(), options: { onlyIfDue?: boolean } = {}): Promise<boolean> {
  if (options.onlyIfDue) {
    const [due] = await executor.execute<{ due: boolean }>(sql`select exists (
      select 1 from access_reviews where status = 'open' and (
        (reminded_soon_at is null and reminded_due_at is null and due_at <= now() + interval '3 days' and due_at > now() + interval '1 day')
        or (reminded_due_at is null and due_at <= now() + interval '1 day'))
      union all
      select 1 from access_reviews where recurrence_months is not null and next_id is null and (status = 'closed' or due_at <= now())
    ) as due`);
    if (!due?.due) return false;
  }
  const [waiting] = await executor.select({ id: jobs.id }).from(jobs).where(and(eq(jobs.kind, "access_review_upkeep"), eq(jobs.status, "queued"))).limit(1);
  if (waiting) return false;
  await enqueueJob(executor, upkeepCtx, { kind: "access_review_upkeep", params: {} });
  return true;
}

/** Creates a campaign and fixes its items: each membership of the groups, each grant on the resources, or each user who may enter the environment. */
export async function createAccessReview(ctx: DomainContext, input: unknown): Promise<Review> {
  const data = parseInput(createReviewInput, input);
  authorize(ctx.actor, "access_reviews", "write", [data.environmentId]);
  const { review, mails } = await inTransaction((tx) => createReviewIn(tx, ctx, data, null));
  for (const mail of mails) await sendMail(mail);
  return review;
}

/**
 * The campaign itself, in the caller's transaction (a recurring campaign's next one is made by the
 * upkeep job with the same call). Returns the mails telling each reviewer, sent after the commit.
 */
export async function createReviewIn(tx: Tx, ctx: DomainContext, data: ReviewDefinition, previous: Review | null): Promise<{ review: Review; mails: Mail[] }> {
  const scopeIds = data.scope === "environment_access" ? [] : [...new Set(data.scopeIds)];
  const env = await requireEnvironment(tx, data.environmentId);
  const reviewerIds = [...new Set(data.reviewerIds)];
  const reviewers = await tx
    .select({ id: consoleMembers.id, email: consoleMembers.email, name: consoleMembers.name })
    .from(consoleMembers)
    .where(and(inArray(consoleMembers.id, reviewerIds), eq(consoleMembers.status, "active")));
  if (reviewers.length !== reviewerIds.length) throw ValidationError.field("reviewerIds", "Every reviewer must be an active console member.");

  if (data.scope === "groups") {
    const found = await tx.select({ id: groups.id, source: groups.source }).from(groups).where(and(inArray(groups.id, scopeIds), eq(groups.environmentId, env.id)));
    if (found.length !== scopeIds.length) throw ValidationError.field("scopeIds", `Every group must belong to ${env.name}.`);
    if (found.some((g) => g.source === "system")) {
      throw ValidationError.field("scopeIds", "Everyone follows environment access and is not reviewed as a group.");
    }
  } else if (data.scope === "resources") {
    const found = await tx.select({ id: resources.id }).from(resources).where(and(inArray(resources.id, scopeIds), eq(resources.environmentId, env.id)));
    if (found.length !== scopeIds.length) throw ValidationError.field("scopeIds", `Every resource must belong to ${env.name}.`);
  }

  const [review] = await tx
    .insert(accessReviews)
    .values({
      environmentId: env.id,
      name: data.name,
      scope: data.scope,
      scopeIds,
      dueAt: data.dueAt,
      createdBy: ctx.actor.label,
      recurrenceMonths: data.recurrenceMonths,
      previousId: previous?.id ?? null,
    })
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
      : data.scope === "resources"
        ? await tx.execute(sql`
            insert into access_review_items (review_id, kind, grant_id, user_id, group_id, feature, resource_id, user_email, user_name, group_name, resource_name)
            select ${review!.id}, 'grant', a.id, a.user_id, a.group_id, a.feature, a.resource_id, u.email, u.name, g.name, r.name
            from ${accessGrants} a join ${resources} r on r.id = a.resource_id
              left join ${users} u on u.id = a.user_id left join ${groups} g on g.id = a.group_id
            where a.resource_id in (${sql.join(scopeIds.map((id) => sql`${id}::uuid`), sql`, `)})
            returning id`)
        : await tx.execute(sql`
            insert into access_review_items (review_id, kind, user_id, user_email, user_name)
            select ${review!.id}, 'access', u.id, u.email, u.name
            from ${environmentAccess} a join ${users} u on u.id = a.user_id
            where a.environment_id = ${env.id}
            returning id`);
  await recordAudit(tx, ctx, {
    action: "access_review.create",
    targetType: "access_review",
    targetId: review!.id,
    targetLabel: review!.name,
    environment: env,
    after: {
      scope: data.scope,
      scopeIds,
      reviewerIds,
      dueAt: data.dueAt.toISOString(),
      items: items.length,
      ...(data.recurrenceMonths ? { recurrenceMonths: data.recurrenceMonths } : {}),
      ...(previous ? { recurrenceOf: previous.id } : {}),
    },
  });
  const mails = reviewers.map((r) => reviewerMail(r, review!, env, "assigned", items.length));
  return { review: review!, mails };
}

/** The mail a reviewer gets when assigned, and before the due date. */
export function reviewerMail(reviewer: { id: string; email: string; name: string }, review: Pick<Review, "id" | "name" | "dueAt">, env: { key: string; name: string }, kind: "assigned" | "soon" | "due", items: number): Mail {
  const due = review.dueAt.toISOString().slice(0, 16).replace("T", " ");
  const link = `${publicOrigin()}/console/${env.key}/reviews/${review.id}`;
  const subject =
    kind === "assigned" ? `Access review to do: ${review.name} (${env.name})` : kind === "soon" ? `Reminder: access review ${review.name} is due ${due} UTC` : `Due today: access review ${review.name}`;
  const lead =
    kind === "assigned"
      ? `You are a reviewer of the access review "${review.name}" in ${env.name}: ${items} item${items === 1 ? "" : "s"} to keep or revoke.`
      : `The access review "${review.name}" in ${env.name} is due ${due} UTC, and ${items} item${items === 1 ? " is" : "s are"} still undecided.`;
  return { to: reviewer.email, consoleMemberId: reviewer.id, subject, text: `Hello ${reviewer.name},\n\n${lead}\nDue: ${due} UTC.\n\nOpen it: ${link}\n` };
}

/** An assigned reviewer marks items keep or revoke (a revoke needs a comment). Changes no access. */
export async function decideReviewItems(ctx: DomainContext, input: unknown): Promise<{ decided: number }> {
  const data = parseInput(decideInput, input);
  authorize(ctx.actor, "review_decisions", "write", "any");
  return inTransaction(async (tx) => {
    const review = await lockReview(tx, data.reviewId);
    if (review.status !== "open") throw new ConflictError("This review is closed; its decisions are final.");
    // A token limited to environments decides only in them (a decision is a change, and says so).
    if (ctx.actor.type === "api_token" && ctx.actor.environmentIds && !ctx.actor.environmentIds.includes(review.environmentId)) {
      throw new ForbiddenError(OUTSIDE_SCOPE.write);
    }
    authorize(ctx.actor, "access_reviews", "read", [review.environmentId]);
    if (ctx.actor.type !== "system") {
      // A reviewer-scoped API token decides for the member who made it, while that member is active.
      const memberId = ctx.actor.type === "api_token" ? (ctx.actor.scope === "reviewer" ? ctx.actor.createdBy : null) : ctx.actor.id;
      if (!memberId) throw new ForbiddenError("Only this review's assigned reviewers can decide its items: use a reviewer token made by one of them.");
      const [assigned] = await tx
        .select({ id: accessReviewReviewers.memberId, status: consoleMembers.status })
        .from(accessReviewReviewers)
        .innerJoin(consoleMembers, eq(consoleMembers.id, accessReviewReviewers.memberId))
        .where(and(eq(accessReviewReviewers.reviewId, review.id), eq(accessReviewReviewers.memberId, memberId)));
      if (!assigned) throw new ForbiddenError("Only this review's assigned reviewers can decide its items.");
      if (assigned.status !== "active") throw new ForbiddenError("The member this API token acts for is not active.");
    }
    const itemIds = [...new Set(data.itemIds)];
    // Separation of duties: nobody keeps (or revokes) their own access, theirs by name or through a
    // group they are in (a grant to it); another reviewer decides it.
    const reviewer = await personEmailOf(tx, ctx.actor);
    if (reviewer) {
      const [own] = await tx
        .select({ what: sql<string>`coalesce(${accessReviewItems.userEmail}, ${accessReviewItems.groupName})` })
        .from(accessReviewItems)
        .where(
          and(
            eq(accessReviewItems.reviewId, review.id),
            inArray(accessReviewItems.id, itemIds),
            sql`(lower(${accessReviewItems.userEmail}) = ${reviewer} or (${accessReviewItems.userId} is null and ${accessReviewItems.groupId} is not null
              and exists (select 1 from ${groupMembers} gm join ${users} u on u.id = gm.user_id where gm.group_id = ${accessReviewItems.groupId} and lower(u.email) = ${reviewer})))`,
          ),
        )
        .limit(1);
      if (own) throw new ForbiddenError(`You cannot decide on your own access (${own.what}): another reviewer must.`);
    }
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
  "exclusion",
];

/**
 * Closes a campaign: every "revoke" is applied (membership removed or grant deleted, each audited
 * by its domain function), undecided items are kept and reported as such, and the signed-off
 * report is stored with its SHA-256. All in one transaction: a crash leaves the campaign open
 * and nothing applied, and closing again is safe.
 */
export async function closeAccessReview(ctx: DomainContext, reviewId: string): Promise<{ revoked: number; alreadyGone: number; kept: number; undecided: number; excluded: number; sha256: string }> {
  const id = parseInput(uuidSchema, reviewId);
  authorize(ctx.actor, "access_reviews", "write", "any");
  return inTransaction(async (tx) => {
    const review = await lockReview(tx, id);
    authorize(ctx.actor, "access_reviews", "write", [review.environmentId]);
    if (review.status !== "open") throw new ConflictError("This review is already closed.");
    const env = await requireEnvironment(tx, review.environmentId);
    const items = await tx.select().from(accessReviewItems).where(eq(accessReviewItems.reviewId, id)).orderBy(asc(accessReviewItems.groupName), asc(accessReviewItems.userEmail));

    const outcome = new Map<string, string>();
    // What is revoked here is kept as an exclusion, so that no sync adds it back (lib/groups/
    // exclusions.ts): what a directory or an IdP owned, its own sync; what an admin granted by hand
    // (source "manual"), every sync: the next SSO sign-in's JIT or group sync, or a directory, would
    // otherwise undo the review with no one deciding it.
    const exclusions: ExclusionRow[] = [];
    const exclusionOf = new Map<string, string>();
    const [auth] = await tx.select({ identityProviderId: environmentAuth.identityProviderId }).from(environmentAuth).where(eq(environmentAuth.environmentId, env.id));
    const exclude = (item: ReviewItem, kind: "member" | "access", owner: { source: string; directoryId: string | null } | undefined) => {
      if (!owner) return;
      const source = owner.source === "scim" ? "scim" : owner.source === "saml" ? "saml" : owner.source === "jit" ? "jit" : "manual";
      exclusions.push({
        kind,
        environmentId: env.id,
        userId: item.userId!,
        groupId: kind === "member" ? item.groupId : null,
        source,
        directoryId: source === "scim" ? owner.directoryId : null,
        identityProviderId: source === "saml" || source === "jit" ? (auth?.identityProviderId ?? null) : null,
        reason: item.comment ?? "Revoked in an access review.",
        reviewId: review.id,
        reviewItemId: item.id,
      });
      exclusionOf.set(item.id, source === "manual" ? "every sync excluded" : `${source === "scim" ? "directory" : "identity provider"} sync excluded`);
    };

    // Memberships: one removal per group (one audit row per group, as the console writes).
    const byGroup = new Map<string, ReviewItem[]>();
    for (const item of items.filter((i) => i.decision === "revoke" && i.kind === "membership")) byGroup.set(item.groupId!, [...(byGroup.get(item.groupId!) ?? []), item]);
    // Who owns each membership about to be removed (its source and directory).
    const owners = byGroup.size
      ? await tx
          .select({ groupId: groupMembers.groupId, userId: groupMembers.userId, source: groupMembers.source, directoryId: groupMembers.directoryId, createdAt: groupMembers.createdAt })
          .from(groupMembers)
          .where(and(inArray(groupMembers.groupId, [...byGroup.keys()]), inArray(groupMembers.userId, [...byGroup.values()].flat().map((i) => i.userId!))))
      : [];
    const ownerOf = new Map(owners.map((o) => [`${o.groupId}:${o.userId}`, o]));
    // A decision is about what was reviewed: a membership (or access) removed and added again since
    // the campaign began is a later change, not the one reviewed, and stays (the report says so).
    const REVIEWED_LATER = "not revoked: added again after the review began (a later change, not the one reviewed)";
    const addedSince = (at: Date | undefined) => !!at && at > review.createdAt;
    for (const [groupId, all] of byGroup) {
      const list: ReviewItem[] = [];
      for (const i of all) {
        if (addedSince(ownerOf.get(`${groupId}:${i.userId}`)?.createdAt)) outcome.set(i.id, REVIEWED_LATER);
        else list.push(i);
      }
      if (!list.length) continue;
      // A group deleted since the campaign started: its memberships are already gone (the lookup
      // throws before any write, so the transaction goes on).
      const result = await removeMembersIn(tx, ctx, { groupId, userIds: list.map((i) => i.userId!) }).catch((error: unknown) => {
        if (error instanceof NotFoundError) return null;
        throw error;
      });
      const changed = new Set(result?.changed);
      for (const i of list) {
        outcome.set(i.id, !result ? "already gone (group deleted)" : changed.has(i.userId!) ? "revoked" : "already gone");
        if (changed.has(i.userId!)) exclude(i, "member", ownerOf.get(`${groupId}:${i.userId}`));
      }
    }
    // Environment access: revoked through the users' domain function (memberships and sessions there end too).
    const accessItems = items.filter((i) => i.decision === "revoke" && i.kind === "access");
    if (accessItems.length) {
      const accessOwners = await tx
        .select({ userId: environmentAccess.userId, source: environmentAccess.source, directoryId: environmentAccess.directoryId, grantedAt: environmentAccess.grantedAt })
        .from(environmentAccess)
        .where(and(eq(environmentAccess.environmentId, env.id), inArray(environmentAccess.userId, accessItems.map((i) => i.userId!))));
      const existing = new Set((await tx.select({ id: users.id }).from(users).where(inArray(users.id, accessItems.map((i) => i.userId!)))).map((u) => u.id));
      const accessOwnerOf = new Map(accessOwners.map((o) => [o.userId, o]));
      const later = new Set(accessItems.filter((i) => addedSince(accessOwnerOf.get(i.userId!)?.grantedAt)).map((i) => i.id));
      const present = accessItems.filter((i) => existing.has(i.userId!) && !later.has(i.id));
      const result = present.length ? await revokeEnvironmentFromUsersIn(tx, ctx, { environmentId: env.id, userIds: present.map((i) => i.userId!) }) : { changed: [], failed: [] };
      const changed = new Set(result.changed);
      const failed = new Map(result.failed.map((f) => [f.userId, f.reason]));
      for (const i of accessItems) {
        if (later.has(i.id)) {
          outcome.set(i.id, REVIEWED_LATER);
          continue;
        }
        outcome.set(i.id, changed.has(i.userId!) ? "revoked" : failed.has(i.userId!) ? `not revoked: ${failed.get(i.userId!)}` : "already gone");
        if (changed.has(i.userId!)) exclude(i, "access", accessOwnerOf.get(i.userId!));
      }
    }
    await insertExclusionRows(tx, ctx, exclusions);
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
        exclusionOf.get(i.id) ?? "",
      ]),
    ]);
    const sha256 = createHash("sha256").update(csv).digest("hex");
    await tx.execute(sql`
      update access_review_items i set outcome = o.outcome
      from (select unnest(${sql.param([...outcome.keys()])}::uuid[]) as id, unnest(${sql.param([...outcome.values()])}::text[]) as outcome) o
      where i.id = o.id`);
    await tx.update(accessReviews).set({ status: "closed", closedAt, closedBy: ctx.actor.label, reportCsv: csv, reportSha256: sha256 }).where(eq(accessReviews.id, id));
    const count = (prefix: string) => [...outcome.values()].filter((o) => o.startsWith(prefix)).length;
    const summary = { revoked: count("revoked"), alreadyGone: count("already gone"), kept: count("kept"), undecided: count("no decision"), excluded: exclusions.length };
    // A recurring campaign's next one is made by the upkeep job, at once.
    if (review.recurrenceMonths) await enqueueAccessReviewUpkeep(tx);
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

export const SCOPE_LABELS: Record<Review["scope"], string> = { groups: "Group memberships", resources: "Resource grants", environment_access: "Environment access" };

type ItemExclusion = { source: string; liftedAt: Date | null; liftedBy: string | null };

export async function getAccessReview(
  environmentId: string,
  reviewId: string,
  db: Executor = getDb(),
): Promise<{ review: ReviewSummary; items: ReviewItem[]; exclusions: Map<string, ItemExclusion> } | null> {
  if (!uuidSchema.safeParse(reviewId).success) return null;
  const [review] = await listAccessReviews(environmentId, db, reviewId);
  if (!review) return null;
  const [items, excluded] = await Promise.all([
    db.select().from(accessReviewItems).where(eq(accessReviewItems.reviewId, reviewId)).orderBy(asc(accessReviewItems.groupName), asc(accessReviewItems.resourceName), asc(accessReviewItems.userEmail)),
    db
      .select({ itemId: membershipExclusions.reviewItemId, source: membershipExclusions.source, liftedAt: membershipExclusions.liftedAt, liftedBy: membershipExclusions.liftedBy })
      .from(membershipExclusions)
      .where(eq(membershipExclusions.reviewId, reviewId)),
  ]);
  return { review, items, exclusions: new Map(excluded.map(({ itemId, ...e }) => [itemId!, e])) };
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
