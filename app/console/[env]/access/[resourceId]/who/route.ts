import { iterateWhoCanUse } from "@/lib/access/policy";
import { findResource } from "@/lib/access/resources";
import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { csvResponse } from "@/lib/doors/http/csv";
import { problem } from "@/lib/doors/http/problem";

// "Who can use this" as CSV: every effective user of the resource with the path, streamed.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string; resourceId: string }> }) {
  const { env: envKey, resourceId } = await params;
  const context = await consoleRouteContext(envKey, { read: "access_grants" });
  if (context instanceof Response) return context;
  const { env } = context;
  const resource = await findResource(env.id, resourceId);
  if (!resource) return problem(404, "No such resource in this environment.");
  return csvResponse(
    `who-can-use-${resource.name.replace(/[^\w.-]+/g, "-").toLowerCase()}-${env.key}.csv`,
    ["user_id", "email", "name", "via", "group", "grant_id", "grant_scope"],
    iterateWhoCanUse(resource),
    (r) => [r.userId, r.email, r.name, r.via, r.groupName ?? "", r.grantId, r.tool ? `tool:${r.tool}` : r.scope],
  );
}
