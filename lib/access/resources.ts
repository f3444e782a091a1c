import "server-only";
import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { FEATURES, type Feature } from "@/db/enums";
import { accessGrants, environments, resources, type Resource } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { closedRequestEntries } from "@/lib/access-requests/closing";
import { recordAudit, recordAuditMany } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { NotFoundError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Resources of a feature inside one environment: genies (Agent Studio), workspaces (Workato GO),
// MCP servers. Names are unique per environment and feature, case-insensitively.

const nameSchema = z.string({ error: "Name the resource." }).trim().min(1, "Name the resource.").max(100, "A name has at most 100 characters.");
/** A resource's description, as stored (trimmed): the console's and a promoted document's one rule. */
export const resourceDescription = z.string({ error: "A description is text." }).trim().max(500, "A description has at most 500 characters.");

export const createResourceInput = z.object({
  environmentId: uuidSchema,
  feature: z.enum(FEATURES, { error: "Choose Agent Studio, Workato GO or MCP." }),
  name: nameSchema,
  description: resourceDescription.default(""),
});
/** A change: what is given changes, what is left out stays (a rename keeps the description). */
export const updateResourceInput = z
  .object({ name: nameSchema.optional(), description: resourceDescription.optional() })
  .refine((v) => v.name !== undefined || v.description !== undefined, { message: "Nothing to change.", path: ["_form"] });

export const RESOURCE_NOUN: Record<Feature, string> = { agent_studio: "genie", workato_go: "workspace", mcp: "MCP server" };

const snapshot = (r: Resource) => ({ name: r.name, description: r.description, feature: r.feature });

async function lockResource(executor: Executor, ctx: DomainContext, id: string): Promise<Resource & { environmentKey: string }> {
  const parsed = uuidSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError("Resource not found.");
  const [row] = await executor
    .select({ resource: resources, environmentKey: environments.key })
    .from(resources)
    .innerJoin(environments, eq(environments.id, resources.environmentId))
    .where(eq(resources.id, parsed.data))
    .for("update", { of: resources });
  if (!row) throw new NotFoundError("Resource not found.");
  authorize(ctx.actor, "resources", "write", [row.resource.environmentId]);
  return { ...row.resource, environmentKey: row.environmentKey };
}

export async function createResource(ctx: DomainContext, input: unknown): Promise<Resource> {
  const data = parseInput(createResourceInput, input);
  authorize(ctx.actor, "resources", "write", [data.environmentId]);
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, data.environmentId);
    const [created] = await tx.insert(resources).values(data).returning();
    await recordAudit(tx, ctx, { action: "resource.create", targetType: "resource", targetId: created!.id, targetLabel: created!.name, environment: env, after: snapshot(created!) });
    return created!;
  });
}

export async function updateResource(ctx: DomainContext, id: string, input: unknown): Promise<Resource> {
  const data = parseInput(updateResourceInput, input);
  return inTransaction(async (tx) => {
    const before = await lockResource(tx, ctx, id);
    const [after] = await tx.update(resources).set({ ...data, updatedAt: sql`now()` }).where(eq(resources.id, before.id)).returning();
    await recordAudit(tx, ctx, { action: "resource.update", targetType: "resource", targetId: before.id, targetLabel: after!.name, environment: { id: before.environmentId, key: before.environmentKey }, before: snapshot(before), after: snapshot(after!) });
    return after!;
  });
}

/**
 * Deletes a resource and its grants (the grants are listed in the audit row). Its access requests
 * go with it (the foreign key cascades): each one still open gets a row of its own, closed because
 * the resource is gone, so the trail of a request does not end at "asked".
 */
export async function deleteResource(ctx: DomainContext, id: string): Promise<void> {
  await inTransaction(async (tx) => {
    const before = await lockResource(tx, ctx, id);
    const grants = await tx.delete(accessGrants).where(eq(accessGrants.resourceId, before.id)).returning();
    const closed = await closedRequestEntries(tx, { resourceId: before.id }, "The resource was deleted.");
    await tx.delete(resources).where(eq(resources.id, before.id));
    await recordAuditMany(tx, ctx, [
      {
        action: "resource.delete",
        targetType: "resource",
        targetId: before.id,
        targetLabel: before.name,
        environment: { id: before.environmentId, key: before.environmentKey },
        before: { ...snapshot(before), grants: grants.map((g) => ({ id: g.id, groupId: g.groupId, userId: g.userId })), openRequests: closed.length },
      },
      ...closed,
    ]);
  });
}

export type ResourceSummary = Resource & { grantCount: number };

export async function listResources(environmentId: string, feature?: Feature, executor: Executor = getDb()): Promise<ResourceSummary[]> {
  return executor
    .select({
      id: resources.id,
      environmentId: resources.environmentId,
      feature: resources.feature,
      name: resources.name,
      description: resources.description,
      createdAt: resources.createdAt,
      updatedAt: resources.updatedAt,
      // Qualified by hand: inside a subquery Drizzle renders ${resources.id} as a bare "id", which is g.id.
      grantCount: sql<number>`(select count(*) from access_grants g where g.resource_id = "resources"."id")::int`,
    })
    .from(resources)
    .where(and(eq(resources.environmentId, environmentId), feature ? eq(resources.feature, feature) : undefined))
    .orderBy(asc(resources.feature), sql`lower(${resources.name})`)
    .limit(1000);
}

export async function findResource(environmentId: string, id: string, executor: Executor = getDb()): Promise<Resource | undefined> {
  if (!uuidSchema.safeParse(id).success) return undefined;
  const [row] = await executor.select().from(resources).where(and(eq(resources.id, id), eq(resources.environmentId, environmentId)));
  return row;
}


/** A resource by id in whatever environment it is, with that environment's key (the caller authorizes). */
export async function findResourceById(id: string, executor: Executor = getDb()): Promise<{ resource: Resource; environmentKey: string } | undefined> {
  if (!uuidSchema.safeParse(id).success) return undefined;
  const [row] = await executor.select({ resource: resources, environmentKey: environments.key }).from(resources).innerJoin(environments, eq(environments.id, resources.environmentId)).where(eq(resources.id, id));
  return row;
}
