import "server-only";
import { and, desc, eq, inArray, isNull, sql } from "drizzle-orm";
import { arrayLiteral } from "@/db/records";
import { getDb, type Executor } from "@/db/client";
import type { ExclusionSource } from "@/db/enums";
import { accessReviews, directories, environments, groups, identityProviders, membershipExclusions, users } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { ConflictError, NotFoundError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Exclusions: what a review revoked from a directory or an IdP, kept so that their next sync does
// not add it back. The one writer of membership_exclusions. A standing exclusion (not lifted) of a
// membership makes a SCIM PUT/PATCH of the group and a SAML sign-in's group sync leave that member
// out (saying so in the request log or the sync trace); one of environment access keeps a JIT
// sign-in and a SCIM user write from granting that access again. Manual changes by an admin are
// not held back: the admin decides. Lifting (audited) lets the next sync add it back.

export type ExclusionRow = {
  kind: "member" | "access";
  environmentId: string;
  userId: string;
  groupId: string | null;
  source: ExclusionSource;
  directoryId: string | null;
  identityProviderId: string | null;
  reason: string;
  reviewId: string | null;
  reviewItemId: string | null;
};

/** Records exclusions (a campaign's closing); an already standing one of the same thing is kept as it is. */
export async function insertExclusionRows(tx: Executor, ctx: DomainContext, rows: readonly ExclusionRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const inserted = await tx
    .insert(membershipExclusions)
    .values(rows.map((r) => ({ ...r, createdBy: ctx.actor.label })))
    .onConflictDoNothing()
    .returning({ id: membershipExclusions.id });
  return inserted.length;
}

export type StandingExclusion = { id: string; reason: string; reviewName: string | null };

const standingColumns = { id: membershipExclusions.id, reason: membershipExclusions.reason, reviewName: accessReviews.name };

/** Standing exclusions of members of one group, by user. */
export async function memberExclusionsOf(tx: Executor, groupId: string, userIds: readonly string[]): Promise<Map<string, StandingExclusion>> {
  if (userIds.length === 0) return new Map();
  const rows = await tx
    .select({ ...standingColumns, userId: membershipExclusions.userId })
    .from(membershipExclusions)
    .leftJoin(accessReviews, eq(accessReviews.id, membershipExclusions.reviewId))
    .where(and(eq(membershipExclusions.kind, "member"), eq(membershipExclusions.groupId, groupId), sql`${membershipExclusions.userId} = any(${arrayLiteral(userIds)}::uuid[])`, isNull(membershipExclusions.liftedAt)));
  return new Map(rows.map(({ userId, ...r }) => [userId, r]));
}

/** Standing exclusions of one user from groups (a SAML group sync), by group. */
export async function groupExclusionsOfUser(tx: Executor, userId: string, groupIds: readonly string[]): Promise<Map<string, StandingExclusion>> {
  if (groupIds.length === 0) return new Map();
  const rows = await tx
    .select({ ...standingColumns, groupId: membershipExclusions.groupId })
    .from(membershipExclusions)
    .leftJoin(accessReviews, eq(accessReviews.id, membershipExclusions.reviewId))
    .where(and(eq(membershipExclusions.kind, "member"), eq(membershipExclusions.userId, userId), inArray(membershipExclusions.groupId, [...groupIds]), isNull(membershipExclusions.liftedAt)));
  return new Map(rows.map(({ groupId, ...r }) => [groupId!, r]));
}

/** Standing exclusions of users from an environment's access, by user. */
export async function accessExclusionsOf(tx: Executor, environmentId: string, userIds: readonly string[]): Promise<Map<string, StandingExclusion>> {
  if (userIds.length === 0) return new Map();
  const rows = await tx
    .select({ ...standingColumns, userId: membershipExclusions.userId })
    .from(membershipExclusions)
    .leftJoin(accessReviews, eq(accessReviews.id, membershipExclusions.reviewId))
    .where(and(eq(membershipExclusions.kind, "access"), eq(membershipExclusions.environmentId, environmentId), inArray(membershipExclusions.userId, [...userIds]), isNull(membershipExclusions.liftedAt)));
  return new Map(rows.map(({ userId, ...r }) => [userId, r]));
}

/** How an exclusion reads in a log, a trace or a page: the reason, and the review it came from. */
export function exclusionNote(e: StandingExclusion): string {
  return e.reviewName ? `excluded by access review "${e.reviewName}": ${e.reason}` : `excluded: ${e.reason}`;
}

/** A user's exclusions (standing first, then lifted), for the user's page. */
export async function listUserExclusions(userId: string, db: Executor = getDb()) {
  if (!uuidSchema.safeParse(userId).success) return [];
  return db
    .select({
      id: membershipExclusions.id,
      kind: membershipExclusions.kind,
      environmentId: membershipExclusions.environmentId,
      environmentKey: environments.key,
      groupId: membershipExclusions.groupId,
      groupName: groups.name,
      source: membershipExclusions.source,
      sourceName: sql<string | null>`coalesce(${directories.name}, ${identityProviders.name})`,
      reason: membershipExclusions.reason,
      reviewId: membershipExclusions.reviewId,
      reviewName: accessReviews.name,
      createdBy: membershipExclusions.createdBy,
      createdAt: membershipExclusions.createdAt,
      liftedAt: membershipExclusions.liftedAt,
      liftedBy: membershipExclusions.liftedBy,
    })
    .from(membershipExclusions)
    .innerJoin(environments, eq(environments.id, membershipExclusions.environmentId))
    .leftJoin(groups, eq(groups.id, membershipExclusions.groupId))
    .leftJoin(directories, eq(directories.id, membershipExclusions.directoryId))
    .leftJoin(identityProviders, eq(identityProviders.id, membershipExclusions.identityProviderId))
    .leftJoin(accessReviews, eq(accessReviews.id, membershipExclusions.reviewId))
    .where(eq(membershipExclusions.userId, userId))
    .orderBy(sql`${membershipExclusions.liftedAt} is not null`, desc(membershipExclusions.createdAt))
    .limit(200);
}

/**
 * Lifts a standing exclusion: the next sync of the directory or IdP may add it back. Needs the
 * permission to change what it holds back (memberships, or environment access) in its environment.
 */
export async function liftExclusion(ctx: DomainContext, exclusionId: string): Promise<void> {
  const id = parseInput(uuidSchema, exclusionId);
  authorize(ctx.actor, "memberships", "write", "any");
  await inTransaction(async (tx) => {
    const [row] = await tx
      .select({ exclusion: membershipExclusions, environmentKey: environments.key, groupName: groups.name, email: users.email })
      .from(membershipExclusions)
      .innerJoin(environments, eq(environments.id, membershipExclusions.environmentId))
      .innerJoin(users, eq(users.id, membershipExclusions.userId))
      .leftJoin(groups, eq(groups.id, membershipExclusions.groupId))
      .where(eq(membershipExclusions.id, id))
      .for("update", { of: membershipExclusions });
    if (!row) throw new NotFoundError("Exclusion not found.");
    const e = row.exclusion;
    authorize(ctx.actor, e.kind === "member" ? "memberships" : "environment_access", "write", [e.environmentId]);
    if (e.liftedAt) throw new ConflictError("This exclusion is already lifted.");
    await tx.update(membershipExclusions).set({ liftedAt: sql`now()`, liftedBy: ctx.actor.label }).where(eq(membershipExclusions.id, id));
    await recordAudit(tx, ctx, {
      action: "membership_exclusion.lift",
      targetType: "user",
      targetId: e.userId,
      targetLabel: row.email,
      environment: { id: e.environmentId, key: row.environmentKey },
      before: { kind: e.kind, group: row.groupName, source: e.source, reason: e.reason, reviewId: e.reviewId },
    });
  });
}
