import "server-only";
import { and, desc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { ACCESS_REQUEST_STATUSES, FEATURE_LABELS, MCP_TOOLS, type AccessRequestStatus } from "@/db/enums";
import { accessGrants, accessRequests, environmentAccess, environments, resources, users } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { personEmailOf } from "@/lib/auth/actor-person";
import { addGrantsIn } from "@/lib/access/grants";
import { decide } from "@/lib/access/policy";
import { recordAudit } from "@/lib/audit/record";
import { accessRequestLabel } from "./closing";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Access requests: an end user asks for a resource, or one tool of an MCP server, saying why (from
// the MCP server's request_access tool). The environment's admins see the open requests in the
// console (and the REST API) and approve, which adds a direct grant through the grants' own
// function in the same transaction, or deny with a reason. One open request per user, resource and
// tool: asking again answers the open one. Every step is audited.

export const requestAccessInput = z.object({
  environmentId: uuidSchema,
  userId: uuidSchema,
  resourceId: uuidSchema,
  tool: z.enum(MCP_TOOLS, { error: `Choose one of the MCP tools: ${MCP_TOOLS.join(", ")}.` }).nullable().default(null),
  reason: z.string({ error: "Say why you need this access." }).trim().min(1, "Say why you need this access.").max(500, "A reason has at most 500 characters."),
});

export const decideAccessRequestInput = z
  .object({
    requestId: uuidSchema,
    decision: z.enum(["approve", "deny"], { error: "Choose approve or deny." }),
    comment: z.string().trim().max(1000, "A comment has at most 1,000 characters.").default(""),
  })
  .refine((d) => d.decision !== "deny" || d.comment.length > 0, { message: "Say why the request is denied: the user sees it.", path: ["comment"] });

export const listAccessRequestsInput = z.object({
  environmentId: uuidSchema,
  status: z.enum(ACCESS_REQUEST_STATUSES, { error: "Status is pending, approved or denied." }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(200),
});

export type AccessRequest = typeof accessRequests.$inferSelect;
export type AccessRequestView = AccessRequest & { userEmail: string; userName: string; resourceName: string };


/** Files a request for the user (an end user only for themselves); an open one for the same target is answered as is. */
export async function requestAccess(ctx: DomainContext, input: unknown): Promise<{ request: AccessRequest; created: boolean }> {
  const data = parseInput(requestAccessInput, input);
  authorize(ctx.actor, "access_requests", "write", [data.environmentId]);
  if (ctx.actor.type === "end_user" && ctx.actor.id !== data.userId) throw new ForbiddenError("An end user may request access only for themselves.");
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, data.environmentId);
    const [resource] = await tx.select().from(resources).where(and(eq(resources.id, data.resourceId), eq(resources.environmentId, env.id)));
    if (!resource) throw ValidationError.field("resourceId", `No such resource in ${env.name}.`);
    if (data.tool && resource.feature !== "mcp") throw ValidationError.field("tool", "A tool can be requested only on an MCP server.");
    const [user] = await tx
      .select({ id: users.id, email: users.email, status: users.status, hasAccess: sql<boolean>`exists (select 1 from ${environmentAccess} a where a.user_id = ${users.id} and a.environment_id = ${env.id})` })
      .from(users)
      .where(eq(users.id, data.userId));
    if (!user) throw ValidationError.field("userId", "No such user.");
    if (user.status !== "active" || !user.hasAccess) throw new ConflictError(`Only an active user of ${env.name} can request access there.`);
    const [decision] = await decide({ environment: env, user: { id: user.id }, feature: resource.feature, resources: [resource.id], ...(data.tool ? { tool: data.tool } : {}) }, "database");
    if (decision!.allow) throw new ConflictError(`You may already use ${resource.name}${data.tool ? ` (tool ${data.tool})` : ""}: ${decision!.path.join(" → ")}.`);
    const [created] = await tx
      .insert(accessRequests)
      .values({ environmentId: env.id, userId: user.id, feature: resource.feature, resourceId: resource.id, tool: data.tool, reason: data.reason })
      .onConflictDoNothing()
      .returning();
    if (!created) {
      const [open] = await tx
        .select()
        .from(accessRequests)
        .where(and(eq(accessRequests.userId, user.id), eq(accessRequests.resourceId, resource.id), eq(accessRequests.status, "pending"), sql`coalesce(${accessRequests.tool}, '') = ${data.tool ?? ""}`));
      return { request: open!, created: false };
    }
    await recordAudit(tx, ctx, {
      action: "access_request.create",
      targetType: "access_request",
      targetId: created.id,
      targetLabel: accessRequestLabel(user.email, resource.name, data.tool),
      environment: env,
      after: { feature: resource.feature, resourceId: resource.id, tool: data.tool, reason: data.reason },
    });
    return { request: created, created: true };
  });
}

/** The environment's requests, newest first (the open ones by default first in the console). */
export async function listAccessRequests(ctx: DomainContext, input: unknown, executor: Executor = getDb()): Promise<AccessRequestView[]> {
  const data = parseInput(listAccessRequestsInput, input);
  authorize(ctx.actor, "access_requests", "read", [data.environmentId]);
  const rows = await executor
    .select({ request: accessRequests, userEmail: users.email, userName: users.name, resourceName: resources.name })
    .from(accessRequests)
    .innerJoin(users, eq(users.id, accessRequests.userId))
    .innerJoin(resources, eq(resources.id, accessRequests.resourceId))
    .where(and(eq(accessRequests.environmentId, data.environmentId), data.status ? eq(accessRequests.status, data.status) : undefined))
    .orderBy(sql`${accessRequests.status} <> 'pending'`, desc(accessRequests.createdAt))
    .limit(data.limit);
  return rows.map((r) => ({ ...r.request, userEmail: r.userEmail, userName: r.userName, resourceName: r.resourceName }));
}

/** One request with its user, resource and environment key (after a decision, for the REST answer). */
export async function getAccessRequest(ctx: DomainContext, requestId: string): Promise<(AccessRequestView & { environmentKey: string }) | undefined> {
  const [row] = await getDb()
    .select({ request: accessRequests, userEmail: users.email, userName: users.name, resourceName: resources.name, environmentKey: environments.key })
    .from(accessRequests)
    .innerJoin(users, eq(users.id, accessRequests.userId))
    .innerJoin(resources, eq(resources.id, accessRequests.resourceId))
    .innerJoin(environments, eq(environments.id, accessRequests.environmentId))
    .where(eq(accessRequests.id, parseInput(uuidSchema, requestId)));
  if (!row) return undefined;
  authorize(ctx.actor, "access_requests", "read", [row.request.environmentId]);
  return { ...row.request, userEmail: row.userEmail, userName: row.userName, resourceName: row.resourceName, environmentKey: row.environmentKey };
}

/** A user's own requests in an environment (what the MCP tool shows them). */
export async function requestsOf(userId: string, environmentId: string, executor: Executor = getDb()): Promise<(AccessRequest & { resourceName: string })[]> {
  const rows = await executor
    .select({ request: accessRequests, resourceName: resources.name })
    .from(accessRequests)
    .innerJoin(resources, eq(resources.id, accessRequests.resourceId))
    .where(and(eq(accessRequests.userId, userId), eq(accessRequests.environmentId, environmentId)))
    .orderBy(desc(accessRequests.createdAt))
    .limit(50);
  return rows.map((r) => ({ ...r.request, resourceName: r.resourceName }));
}

/** Approves (a direct grant on the resource or tool, in the same transaction) or denies an open request. */
export async function decideAccessRequest(ctx: DomainContext, input: unknown): Promise<AccessRequest> {
  const data = parseInput(decideAccessRequestInput, input);
  authorize(ctx.actor, "access_requests", "write", "any");
  return inTransaction(async (tx) => {
    const [request] = await tx.select().from(accessRequests).where(eq(accessRequests.id, data.requestId)).for("update");
    if (!request) throw new NotFoundError("Access request not found.");
    authorize(ctx.actor, "access_requests", "write", [request.environmentId]);
    if (request.status !== "pending") throw new ConflictError(`This request was already ${request.status}.`);
    const env = await requireEnvironment(tx, request.environmentId);
    const [user] = await tx
      .select({ email: users.email, status: users.status, mayEnter: sql<boolean>`exists (select 1 from ${environmentAccess} a where a.user_id = ${users.id} and a.environment_id = ${request.environmentId})` })
      .from(users)
      .where(eq(users.id, request.userId));
    const [resource] = await tx.select({ name: resources.name }).from(resources).where(eq(resources.id, request.resourceId));
    let grantId: string | null = null;
    if (data.decision === "approve") {
      // Separation of duties: nobody approves their own request.
      const approver = await personEmailOf(tx, ctx.actor);
      if (approver && user && approver === user.email.toLowerCase()) throw new ForbiddenError("You cannot approve your own access request: another approver must.");
      // The user as they are now, not as they were when they asked: a grant to a suspended user, or
      // one who can no longer enter, would wait dormant for whatever lets them back.
      if (!user || user.status !== "active") throw new ConflictError(`${user?.email ?? "The requester"} is ${user?.status ?? "gone"}: deny the request, or reactivate them first.`);
      if (!user.mayEnter) throw new ConflictError(`${user.email} can no longer enter ${env.name}: deny the request, or grant them the environment first.`);
      const { added } = await addGrantsIn(tx, ctx, { environmentId: env.id, feature: request.feature, resourceId: request.resourceId, groupIds: [], userIds: [request.userId], tool: request.tool });
      grantId =
        added[0]?.id ??
        (await tx
          .select({ id: accessGrants.id })
          .from(accessGrants)
          .where(and(eq(accessGrants.userId, request.userId), eq(accessGrants.resourceId, request.resourceId), sql`coalesce(${accessGrants.tool}, '') = ${request.tool ?? ""}`)))[0]?.id ??
        null;
    }
    const status: AccessRequestStatus = data.decision === "approve" ? "approved" : "denied";
    const [updated] = await tx
      .update(accessRequests)
      .set({ status, decidedBy: ctx.actor.label, decidedAt: sql`now()`, comment: data.comment || null, grantId })
      .where(eq(accessRequests.id, request.id))
      .returning();
    await recordAudit(tx, ctx, {
      action: `access_request.${data.decision}`,
      targetType: "access_request",
      targetId: request.id,
      targetLabel: accessRequestLabel(user?.email ?? request.userId, resource?.name ?? FEATURE_LABELS[request.feature], request.tool),
      environment: env,
      before: { status: "pending" },
      after: { status, comment: data.comment || null, grantId },
    });
    return updated!;
  });
}
