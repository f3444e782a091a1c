import "server-only";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import { FEATURES, FEATURE_LABELS, MCP_TOOLS, type Feature, type McpTool } from "@/db/enums";
import { accessGrants, groups, resources, users } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAuditMany, type AuditEntry } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { usersWithAccess } from "@/lib/groups/membership-rows";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Grants: a group or a user → a whole feature or one resource, in one environment.

export const TOOL_ON_ONE_SERVER = "A tool can be granted only on one MCP server.";

/** A grant may name a tool only on one MCP server (not a feature, not another feature's resource). */
export function toolGrantable(feature: string, resource: unknown, tool: string | null | undefined): boolean {
  return !tool || (feature === "mcp" && resource !== null && resource !== undefined);
}

export const addGrantsInput = z
  .object({
    environmentId: uuidSchema,
    feature: z.enum(FEATURES, { error: "Choose Agent Studio, Workato GO or MCP." }),
    resourceId: uuidSchema.nullable().default(null),
    groupIds: z.array(uuidSchema).max(500, "At most 500 groups at once.").default([]),
    userIds: z.array(uuidSchema).max(500, "At most 500 users at once.").default([]),
    // One tool of an MCP server; null (the default): the whole resource or feature.
    tool: z.enum(MCP_TOOLS, { error: `Choose one of the MCP tools: ${MCP_TOOLS.join(", ")}.` }).nullable().default(null),
  })
  .refine((g) => g.groupIds.length + g.userIds.length > 0, { message: "Pick at least one group or user.", path: ["groupIds"] })
  .refine((g) => toolGrantable(g.feature, g.resourceId, g.tool), { message: TOOL_ON_ONE_SERVER, path: ["tool"] });

export type AddGrants = z.infer<typeof addGrantsInput>;

export type GrantView = {
  id: string;
  feature: Feature;
  resourceId: string | null;
  resourceName: string | null;
  tool: McpTool | null;
  subject: { type: "group"; id: string; name: string } | { type: "user"; id: string; name: string; email: string };
  createdAt: Date;
};

/** Adds grants (existing ones are left as they are); returns how many were new. */
export async function addGrants(ctx: DomainContext, input: unknown): Promise<{ added: number; unchanged: number }> {
  const data = parseInput(addGrantsInput, input);
  authorize(ctx.actor, "access_grants", "write", [data.environmentId]);
  return inTransaction(async (tx) => {
    const { added, unchanged } = await addGrantsIn(tx, ctx, data);
    return { added: added.length, unchanged };
  });
}

/** Adds grants inside the caller's transaction (an approved access request); returns the new ones. */
export async function addGrantsIn(tx: Tx, ctx: DomainContext, data: AddGrants): Promise<{ added: { id: string; groupId: string | null; userId: string | null }[]; unchanged: number }> {
  authorize(ctx.actor, "access_grants", "write", [data.environmentId]);
  const env = await requireEnvironment(tx, data.environmentId);
  let target = FEATURE_LABELS[data.feature];
  if (data.resourceId) {
    const [resource] = await tx.select().from(resources).where(and(eq(resources.id, data.resourceId), eq(resources.environmentId, env.id)));
    if (!resource) throw ValidationError.field("resourceId", "That resource is not in this environment.");
    if (resource.feature !== data.feature) throw new ValidationError(`That resource belongs to ${FEATURE_LABELS[resource.feature]}.`, { feature: [`The resource belongs to ${FEATURE_LABELS[resource.feature]}.`] });
    target = data.tool ? `${resource.name} (tool ${data.tool})` : resource.name;
  }
  const groupIds = [...new Set(data.groupIds)];
  const userIds = [...new Set(data.userIds)];
  const foundGroups = groupIds.length ? await tx.select({ id: groups.id, name: groups.name }).from(groups).where(and(inArray(groups.id, groupIds), eq(groups.environmentId, env.id))) : [];
  if (foundGroups.length !== groupIds.length) throw ValidationError.field("groupIds", "Some groups are not in this environment.");
  const foundUsers = userIds.length ? await tx.select({ id: users.id, email: users.email }).from(users).where(inArray(users.id, userIds)) : [];
  if (foundUsers.length !== userIds.length) throw ValidationError.field("userIds", "Some users do not exist.");
  // A grant is to someone of the environment (as a group's member must be): a grant naming anyone
  // else would let an admin of this environment write, and then read back, users outside it.
  const entering = await usersWithAccess(tx, userIds, env.id);
  const outsiders = userIds.filter((id) => !entering.has(id));
  if (outsiders.length) throw ValidationError.field("userIds", `These users cannot enter ${env.key}; grant them the environment first: ${outsiders.join(", ")}.`);
  const rows = [
    ...foundGroups.map((g) => ({ environmentId: env.id, feature: data.feature, resourceId: data.resourceId, groupId: g.id, userId: null, tool: data.tool })),
    ...foundUsers.map((u) => ({ environmentId: env.id, feature: data.feature, resourceId: data.resourceId, groupId: null, userId: u.id, tool: data.tool })),
  ];
  const inserted = await tx.insert(accessGrants).values(rows).onConflictDoNothing().returning();
  const label = (g: (typeof inserted)[number]) => (g.groupId ? `group ${foundGroups.find((x) => x.id === g.groupId)!.name}` : `user ${foundUsers.find((x) => x.id === g.userId)!.email}`);
  await recordAuditMany(
    tx,
    ctx,
    inserted.map((g) => ({
      action: "access_grant.create",
      targetType: "access_grant",
      targetId: g.id,
      targetLabel: `${label(g)} → ${target}`,
      environment: env,
      after: { feature: g.feature, resourceId: g.resourceId, groupId: g.groupId, userId: g.userId, ...(g.tool ? { tool: g.tool } : {}) },
    })),
  );
  return { added: inserted, unchanged: rows.length - inserted.length };
}

/** Removes one grant. Decisions change at once; tokens minted before still list it until they expire. */
export async function removeGrant(ctx: DomainContext, grantId: string): Promise<void> {
  const id = parseInput(uuidSchema, grantId);
  await inTransaction(async (tx) => {
    if (!(await removeGrantsIn(tx, ctx, [id])).size) throw new NotFoundError("Grant not found.");
  });
}

/**
 * Removes grants inside the caller's transaction, each audited; returns the ids removed (those
 * already gone are skipped). A few statements whatever the number (an access review's closing).
 */
export async function removeGrantsIn(tx: Tx, ctx: DomainContext, ids: string[]): Promise<Set<string>> {
  const locked = ids.length ? await tx.select().from(accessGrants).where(inArray(accessGrants.id, ids)).for("update") : [];
  if (!locked.length) return new Set();
  const environmentIds = [...new Set(locked.map((g) => g.environmentId))];
  authorize(ctx.actor, "access_grants", "write", environmentIds);
  const entries: AuditEntry[] = [];
  for (const environmentId of environmentIds) {
    const env = await requireEnvironment(tx, environmentId);
    const here = locked.filter((g) => g.environmentId === environmentId);
    const views = new Map((await listGrants({ environmentId, grantIds: here.map((g) => g.id) }, tx)).map((v) => [v.id, v]));
    for (const grant of here) {
      const view = views.get(grant.id);
      entries.push({
        action: "access_grant.delete",
        targetType: "access_grant",
        targetId: grant.id,
        targetLabel: view ? `${view.subject.type} ${view.subject.type === "user" ? view.subject.email : view.subject.name} → ${view.resourceName ?? FEATURE_LABELS[grant.feature]}${grant.tool ? ` (tool ${grant.tool})` : ""}` : null,
        environment: env,
        before: { feature: grant.feature, resourceId: grant.resourceId, groupId: grant.groupId, userId: grant.userId, ...(grant.tool ? { tool: grant.tool } : {}) },
      });
    }
  }
  await tx.delete(accessGrants).where(inArray(accessGrants.id, locked.map((g) => g.id)));
  await recordAuditMany(tx, ctx, entries);
  return new Set(locked.map((g) => g.id));
}

/** Grants of an environment: of a feature (feature-wide only with `featureWide`), of one resource, of one user's or group's. */
export async function listGrants(
  filter: { environmentId: string; feature?: Feature; resourceId?: string; featureWide?: boolean; userId?: string; groupId?: string; grantIds?: string[] },
  executor: Executor = getDb(),
): Promise<GrantView[]> {
  const rows = await executor
    .select({
      id: accessGrants.id,
      feature: accessGrants.feature,
      resourceId: accessGrants.resourceId,
      resourceName: resources.name,
      tool: accessGrants.tool,
      groupId: accessGrants.groupId,
      groupName: groups.name,
      userId: accessGrants.userId,
      userName: users.name,
      userEmail: users.email,
      createdAt: accessGrants.createdAt,
    })
    .from(accessGrants)
    .leftJoin(resources, eq(resources.id, accessGrants.resourceId))
    .leftJoin(groups, eq(groups.id, accessGrants.groupId))
    .leftJoin(users, eq(users.id, accessGrants.userId))
    .where(
      and(
        eq(accessGrants.environmentId, filter.environmentId),
        filter.feature ? eq(accessGrants.feature, filter.feature) : undefined,
        filter.resourceId ? eq(accessGrants.resourceId, filter.resourceId) : undefined,
        filter.featureWide ? isNull(accessGrants.resourceId) : undefined,
        filter.userId ? eq(accessGrants.userId, filter.userId) : undefined,
        filter.groupId ? eq(accessGrants.groupId, filter.groupId) : undefined,
        filter.grantIds ? inArray(accessGrants.id, filter.grantIds) : undefined,
      ),
    )
    .orderBy(sql`${accessGrants.groupId} is null`, sql`lower(coalesce(${groups.name}, ${users.email}))`)
    .limit(Math.max(2000, filter.grantIds?.length ?? 0));
  return rows.map((r) => ({
    id: r.id,
    feature: r.feature,
    resourceId: r.resourceId,
    resourceName: r.resourceName,
    tool: r.tool,
    subject: r.groupId ? { type: "group", id: r.groupId, name: r.groupName ?? "" } : { type: "user", id: r.userId!, name: r.userName ?? "", email: r.userEmail ?? "" },
    createdAt: r.createdAt,
  }));
}
