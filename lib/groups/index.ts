import "server-only";
import { and, asc, eq, inArray, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import type { MembershipSource } from "@/db/enums";
import { accessGrants, accessReviews, environmentJitGroups, environments, groupMappings, groups, identityProviders, membershipExclusions, resources, users, type Group } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit, type AuditEntry } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";
import { deleteGroupRows, GROUP_NAME_MAX, insertGroupRows, updateGroupRow } from "./group-rows";
import { deleteMembershipRows, insertMembershipRows, usersWithAccess } from "./membership-rows";
import { containsPattern } from "@/lib/domain/like";

const groupName = z
  .string({ error: "Enter a group name." })
  .trim()
  .min(1, "Enter a group name.")
  .max(GROUP_NAME_MAX, `A group name has at most ${GROUP_NAME_MAX} characters.`);
/** A group's description, as stored (trimmed): the console's and a promoted document's one rule. */
export const groupDescription = z.string().trim().max(1000, "A description has at most 1,000 characters.");

export const createGroupInput = z.object({
  environmentId: uuidSchema,
  name: groupName,
  description: groupDescription.default(""),
});

export const updateGroupInput = z
  .object({ name: groupName.optional(), description: groupDescription.optional() })
  .refine((v) => v.name !== undefined || v.description !== undefined, { message: "Nothing to change.", path: ["_form"] });

export const membersInput = z.object({
  groupId: uuidSchema,
  userIds: z.array(uuidSchema).min(1, "Choose at least one user.").max(10_000, "At most 10,000 users at once."),
});

export type MembersResult = {
  changed: string[];
  unchanged: string[];
  failed: { userId: string; reason: string }[];
};

type LockedGroup = Group & { environmentKey: string };

async function lockGroup(tx: Tx, groupId: string): Promise<LockedGroup> {
  const [row] = await tx
    .select({ group: groups, environmentKey: environments.key })
    .from(groups)
    .innerJoin(environments, eq(environments.id, groups.environmentId))
    .where(eq(groups.id, groupId))
    .for("update", { of: groups });
  if (!row) throw new NotFoundError("Group not found.");
  return { ...row.group, environmentKey: row.environmentKey };
}

const envRef = (g: LockedGroup) => ({ id: g.environmentId, key: g.environmentKey });

/**
 * Why a group's name is not an admin's to change (or the group theirs to delete), or null. A directory
 * owns the name of a group it syncs (its next PATCH rebuilds the group from that name, and a
 * deleted group leaves the directory holding an id we answer 404 for); an IdP's sign-ins find the
 * groups they made by name (renamed, the next sign-in makes it again and moves its members there).
 * Everyone is every user of the environment. The console shows these groups read-only; every door
 * (REST, promotion) is refused here.
 */
function notAdminsToChange(group: Group, change: "rename" | "delete"): string | null {
  switch (group.source) {
    case "system":
      return change === "rename" ? "Everyone cannot be renamed." : "Everyone cannot be deleted.";
    case "scim":
      return `${group.name} is kept in sync by a directory (SCIM), which owns its name and members: ${change} it in the directory.`;
    case "saml":
      return `${group.name} was made by IdP sign-ins from their groups attribute, which finds it by name: ${change === "rename" ? "renamed" : "deleted"}, the next sign-in would make it again. Change the groups the IdP sends instead.`;
    default:
      return null;
  }
}

export async function createGroup(ctx: DomainContext, input: unknown, source: "manual" | "scim" | "saml" = "manual"): Promise<Group> {
  const data = parseInput(createGroupInput, input);
  authorize(ctx.actor, "groups", "write", [data.environmentId]);
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, data.environmentId);
    const [group] = await insertGroupRows(tx, [{ environmentId: env.id, name: data.name, description: data.description, source }]);
    await recordAudit(tx, ctx, {
      action: "group.create",
      targetType: "group",
      targetId: group!.id,
      targetLabel: group!.name,
      environment: env,
      after: { name: group!.name, description: group!.description, source },
    });
    return group!;
  });
}

/**
 * Renames a group or changes its description. Everyone keeps its name. `expectedVersion` (a REST
 * If-Match): the version the caller read, compared once the caller is known to be allowed.
 */
export async function updateGroup(ctx: DomainContext, groupId: string, input: unknown, options: { expectedVersion?: number } = {}): Promise<Group> {
  const id = parseInput(uuidSchema, groupId);
  const data = parseInput(updateGroupInput, input);
  authorize(ctx.actor, "groups", "write", "any");
  return inTransaction(async (tx) => {
    const group = await lockGroup(tx, id);
    authorize(ctx.actor, "groups", "write", [group.environmentId]);
    if (options.expectedVersion !== undefined && options.expectedVersion !== group.version) {
      throw new VersionConflictError("This was changed since you read it (If-Match does not match its ETag): read it again.");
    }
    const renaming = data.name !== undefined && data.name !== group.name ? notAdminsToChange(group, "rename") : null;
    if (renaming) throw ValidationError.field("name", renaming);
    const changes: Partial<Pick<Group, "name" | "description">> = {};
    if (data.name !== undefined && data.name !== group.name) changes.name = data.name;
    if (data.description !== undefined && data.description !== group.description) changes.description = data.description;
    if (Object.keys(changes).length === 0) return group;
    const updated = await updateGroupRow(tx, id, changes);
    await recordAudit(tx, ctx, {
      action: changes.name ? "group.rename" : "group.update",
      targetType: "group",
      targetId: id,
      targetLabel: updated.name,
      environment: envRef(group),
      before: Object.fromEntries(Object.keys(changes).map((k) => [k, group[k as keyof typeof changes]])),
      after: changes,
    });
    return updated;
  });
}

/** Deletes a group with its memberships and grants. Everyone cannot be deleted. */
export async function deleteGroup(ctx: DomainContext, groupId: string): Promise<void> {
  const id = parseInput(uuidSchema, groupId);
  authorize(ctx.actor, "groups", "write", "any");
  await inTransaction(async (tx) => {
    const group = await lockGroup(tx, id);
    authorize(ctx.actor, "groups", "write", [group.environmentId]);
    const deleting = notAdminsToChange(group, "delete");
    if (deleting) throw ValidationError.field("_form", deleting);
    const entry = await groupDeletedEntry(tx, group, envRef(group));
    await deleteGroupRows(tx, [id]);
    await recordAudit(tx, ctx, entry);
  });
}

/** At most this many of a deleted group's standing exclusions are named in its audit row (all are counted). */
export const DELETED_EXCLUSIONS_NAMED = 50;

/**
 * The one shape of a `group.delete` audit entry, whichever door deletes the group (console, REST,
 * SCIM); read in the deleting transaction, before the delete. Besides the group itself, what ends
 * with it, as the foreign keys cascade: the feature grants its members held through it, the IdP
 * group values mapped to it, JIT sign-ins adding it, and access reviews' standing exclusions from
 * it. Those exclusions held a directory's or an IdP's sync back from adding a revoked member again;
 * a group made again under the same name starts without them, so the trail says which ended here.
 */
export async function groupDeletedEntry(
  tx: Executor,
  group: Pick<Group, "id" | "name" | "description" | "source" | "memberCount">,
  environment: { id: string; key: string },
): Promise<AuditEntry> {
  const [grants, mappings, jit, exclusions] = await Promise.all([
    tx
      .select({ feature: accessGrants.feature, resource: resources.name, tool: accessGrants.tool })
      .from(accessGrants)
      .leftJoin(resources, eq(resources.id, accessGrants.resourceId))
      .where(eq(accessGrants.groupId, group.id))
      .orderBy(asc(accessGrants.feature), asc(resources.name), asc(accessGrants.tool)),
    tx
      .select({ identityProvider: identityProviders.name, value: groupMappings.idpValue })
      .from(groupMappings)
      .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.identityProviderId))
      .where(eq(groupMappings.groupId, group.id))
      .orderBy(asc(identityProviders.name), asc(groupMappings.idpValue)),
    tx.select({ environmentId: environmentJitGroups.environmentId }).from(environmentJitGroups).where(eq(environmentJitGroups.groupId, group.id)).limit(1),
    tx
      .select({ user: users.email, reason: membershipExclusions.reason, review: accessReviews.name, total: sql<number>`count(*) over ()`.mapWith(Number) })
      .from(membershipExclusions)
      .innerJoin(users, eq(users.id, membershipExclusions.userId))
      .leftJoin(accessReviews, eq(accessReviews.id, membershipExclusions.reviewId))
      .where(and(eq(membershipExclusions.groupId, group.id), isNull(membershipExclusions.liftedAt)))
      .orderBy(asc(users.email))
      .limit(DELETED_EXCLUSIONS_NAMED),
  ]);
  return {
    action: "group.delete",
    targetType: "group",
    targetId: group.id,
    targetLabel: group.name,
    environment,
    before: {
      name: group.name,
      description: group.description,
      source: group.source,
      memberCount: group.memberCount,
      grants: grants.map((g) => ({ feature: g.feature, ...(g.resource ? { resource: g.resource } : {}), ...(g.tool ? { tool: g.tool } : {}) })),
      mappings,
      jit: jit.length > 0,
      exclusions: { count: exclusions[0]?.total ?? 0, named: exclusions.map(({ total: _, review, ...e }) => ({ ...e, ...(review ? { review } : {}) })) },
    },
  };
}

/**
 * Adds users to a group. Each user must have access to the group's environment; the result says,
 * per user, what changed and what failed and why. One audit row for the whole call.
 */
export async function addMembers(
  ctx: DomainContext,
  input: unknown,
  options: { source?: MembershipSource; directoryId?: string } = {},
): Promise<MembersResult> {
  return changeMembers(ctx, input, "add", options);
}

export async function removeMembers(ctx: DomainContext, input: unknown): Promise<MembersResult> {
  return changeMembers(ctx, input, "remove", {});
}

type MembersOptions = { source?: MembershipSource; directoryId?: string };

async function changeMembers(ctx: DomainContext, input: unknown, op: "add" | "remove", options: MembersOptions): Promise<MembersResult> {
  const data = parseInput(membersInput, input);
  authorize(ctx.actor, "memberships", "write", "any");
  return inTransaction((tx) => changeMembersIn(tx, ctx, data, op, options));
}

/** removeMembers inside the caller's transaction (an access review's closing applies several at once). */
export function removeMembersIn(tx: Tx, ctx: DomainContext, input: unknown): Promise<MembersResult> {
  return changeMembersIn(tx, ctx, parseInput(membersInput, input), "remove", {});
}

const userGroupsInput = z.object({
  userId: uuidSchema,
  groupIds: z.array(uuidSchema).min(1, "Choose at least one group.").max(500, "At most 500 groups at once."),
});

/**
 * Adds one user to several groups in one transaction: a refused group (Everyone, outside the
 * caller's scope, unknown) rolls all of them back; one audit row per group, as a bulk add writes.
 */
export async function addUserToGroups(ctx: DomainContext, input: unknown, options: MembersOptions = {}): Promise<MembersResult[]> {
  const data = parseInput(userGroupsInput, input);
  authorize(ctx.actor, "memberships", "write", "any");
  return inTransaction(async (tx) => {
    const results: MembersResult[] = [];
    // Locks groups in id order, as concurrent callers do.
    for (const groupId of [...new Set(data.groupIds)].sort()) {
      results.push(await changeMembersIn(tx, ctx, { groupId, userIds: [data.userId] }, "add", options));
    }
    return results;
  });
}

async function changeMembersIn(
  tx: Tx,
  ctx: DomainContext,
  data: z.output<typeof membersInput>,
  op: "add" | "remove",
  options: MembersOptions,
): Promise<MembersResult> {
  const group = await lockGroup(tx, data.groupId);
  authorize(ctx.actor, "memberships", "write", [group.environmentId]);
  if (group.source === "system") {
    throw new ValidationError("Everyone is kept automatically: grant or revoke environment access instead.", {
      groupId: ["Everyone is kept automatically: grant or revoke environment access instead."],
    });
  }
  const requested = [...new Set(data.userIds)];
  const existing = await tx.select({ id: users.id }).from(users).where(inArray(users.id, requested));
  const known = new Set(existing.map((u) => u.id));
  const failed: MembersResult["failed"] = requested.filter((id) => !known.has(id)).map((userId) => ({ userId, reason: "User not found." }));
  let candidates = requested.filter((id) => known.has(id));
  if (op === "add") {
    const allowed = await usersWithAccess(tx, candidates, group.environmentId);
    for (const id of candidates) {
      if (!allowed.has(id)) failed.push({ userId: id, reason: `No access to the ${group.environmentKey} environment.` });
    }
    candidates = candidates.filter((id) => allowed.has(id));
  }
  const changed =
    op === "add"
      ? await insertMembershipRows(tx, group.id, group.environmentId, candidates, options.source ?? "manual", options.directoryId ?? null)
      : await deleteMembershipRows(tx, group.id, candidates);
  const changedSet = new Set(changed);
  const unchanged = candidates.filter((id) => !changedSet.has(id));
  if (changed.length > 0) {
    await recordAudit(tx, ctx, {
      action: op === "add" ? "group.members.add" : "group.members.remove",
      targetType: "group",
      targetId: group.id,
      targetLabel: group.name,
      environment: envRef(group),
      after: { [op === "add" ? "added" : "removed"]: changed, count: changed.length, source: options.source ?? "manual" },
    });
  }
  return { changed, unchanged, failed };
}

/**
 * Groups of one environment for the groups panel: Everyone, then the first `limit` by name (the
 * unique (environment, lower(name)) index gives that order without sorting every group).
 */
export async function listGroups(environmentId: string, executor: Executor = getDb(), limit = 500) {
  const columns = {
    id: groups.id,
    name: groups.name,
    description: groups.description,
    source: groups.source,
    memberCount: groups.memberCount,
  };
  const [everyone, others] = await Promise.all([
    executor.select(columns).from(groups).where(sql`${groups.environmentId} = ${environmentId} and ${groups.source} = 'system'`),
    executor
      .select(columns)
      .from(groups)
      .where(sql`${groups.environmentId} = ${environmentId} and ${groups.source} <> 'system'`)
      .orderBy(sql`lower(${groups.name})`)
      .limit(limit),
  ]);
  return [...everyone, ...others];
}

const searchGroupsInput = z.object({
  environmentId: uuidSchema,
  q: z.string().trim().max(120).default(""),
  limit: z.number().int().min(1).max(50).default(20),
  includeSystem: z.boolean().default(false),
});

/** Groups of an environment whose name contains `q` (trigram index), for pickers; exact-prefix matches first. */
export async function searchGroups(input: unknown, executor: Executor = getDb()) {
  const data = parseInput(searchGroupsInput, input);
  const pattern = containsPattern(data.q);
  return executor
    .select({ id: groups.id, name: groups.name, memberCount: groups.memberCount, source: groups.source })
    .from(groups)
    .where(
      sql`${groups.environmentId} = ${data.environmentId}
        ${data.q ? sql`and lower(${groups.name}) like ${pattern}` : sql``}
        ${data.includeSystem ? sql`` : sql`and ${groups.source} <> 'system'`}`,
    )
    .orderBy(sql`lower(${groups.name}) like ${pattern.slice(1)} desc`, sql`lower(${groups.name})`)
    .limit(data.limit);
}

const listGroupsPageInput = z.object({
  environmentId: uuidSchema,
  q: z.string().trim().max(120).default(""),
  size: z.coerce.number().int().min(1, "Page size is between 1 and 200.").max(200, "Page size is between 1 and 200.").default(50),
  after: z.string().max(2048).default(""),
});

/** A page of an environment's groups by name (keyset on the unique lower(name) index). */
export async function listGroupsPage(input: unknown, executor: Executor = getDb()) {
  const data = parseInput(listGroupsPageInput, input);
  const after = data.after ? decodeGroupCursor(data.after) : "";
  const pattern = containsPattern(data.q);
  const rows = await executor
    .select({
      id: groups.id,
      name: groups.name,
      description: groups.description,
      source: groups.source,
      memberCount: groups.memberCount,
      version: groups.version,
      sortKey: sql<string>`lower(${groups.name})`,
    })
    .from(groups)
    .where(
      sql`${groups.environmentId} = ${data.environmentId}
        ${data.q ? sql`and lower(${groups.name}) like ${pattern}` : sql``}
        ${after ? sql`and lower(${groups.name}) > ${after}` : sql``}`,
    )
    .orderBy(sql`lower(${groups.name})`)
    .limit(data.size + 1);
  const hasMore = rows.length > data.size;
  if (hasMore) rows.length = data.size;
  const last = rows.at(-1);
  return {
    rows: rows.map(({ sortKey: _key, ...row }) => row),
    next: hasMore && last ? Buffer.from(JSON.stringify(["group", last.sortKey])).toString("base64url") : null,
  };
}

/** A cursor this list gave out (["group", the last name, lowercased], base64url), or a 400: any text decodes as base64url, so the shape is the check. */
function decodeGroupCursor(value: string): string {
  try {
    const decoded = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown;
    if (Array.isArray(decoded) && decoded.length === 2 && decoded[0] === "group" && typeof decoded[1] === "string") return decoded[1];
  } catch {
    // not JSON: refused below
  }
  throw new ValidationError("The page cursor is not valid; start from the first page.", { cursor: ["Not a valid cursor."] });
}

/** A group of one environment by id, or undefined (also for ids that are not UUIDs). */
export async function findGroup(environmentId: string, groupId: string, executor: Executor = getDb()): Promise<Group | undefined> {
  if (!uuidSchema.safeParse(groupId).success) return undefined;
  const [row] = await executor.select().from(groups).where(sql`${groups.id} = ${groupId} and ${groups.environmentId} = ${environmentId}`);
  return row;
}

/** How many groups an environment has (Everyone included). */
export async function countGroups(environmentId: string, executor: Executor = getDb()): Promise<number> {
  const [row] = await executor.select({ n: sql<number>`count(*)::int` }).from(groups).where(eq(groups.environmentId, environmentId));
  return row?.n ?? 0;
}
