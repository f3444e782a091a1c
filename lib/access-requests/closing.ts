import { and, asc, eq, inArray, type SQL } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { accessRequests, environments, resources, users } from "@/db/schema";
import type { AuditEntry } from "@/lib/audit/record";

/** How an access request is named in the audit trail: who asked for what. */
export const accessRequestLabel = (email: string, resourceName: string, tool: string | null) => `${email} → ${resourceName}${tool ? ` (tool ${tool})` : ""}`;

/**
 * The open access requests that go with what is being deleted (a resource, users: the foreign keys
 * cascade), locked, each as an `access_request.close` entry saying why, so a request's trail does
 * not end at "asked". Read before the delete; recorded in its transaction.
 */
export async function closedRequestEntries(tx: Executor, of: { resourceId: string } | { userIds: readonly string[] }, why: string): Promise<AuditEntry[]> {
  const which: SQL = "resourceId" in of ? eq(accessRequests.resourceId, of.resourceId) : inArray(accessRequests.userId, [...of.userIds]);
  const open = await tx
    .select({ id: accessRequests.id, userId: accessRequests.userId, email: users.email, resourceName: resources.name, tool: accessRequests.tool, reason: accessRequests.reason, environmentId: environments.id, environmentKey: environments.key })
    .from(accessRequests)
    .innerJoin(users, eq(users.id, accessRequests.userId))
    .innerJoin(resources, eq(resources.id, accessRequests.resourceId))
    .innerJoin(environments, eq(environments.id, accessRequests.environmentId))
    .where(and(which, eq(accessRequests.status, "pending")))
    .orderBy(asc(accessRequests.createdAt))
    .for("update", { of: accessRequests });
  return open.map((r) => ({
    action: "access_request.close",
    targetType: "access_request",
    targetId: r.id,
    targetLabel: accessRequestLabel(r.email, r.resourceName, r.tool),
    environment: { id: r.environmentId, key: r.environmentKey },
    before: { status: "pending", userId: r.userId, tool: r.tool, reason: r.reason },
    after: { status: "closed", why },
  }));
}
