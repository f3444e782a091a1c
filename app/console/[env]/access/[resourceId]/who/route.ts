import { iterateWhoCanUse } from "@/lib/access/policy";
import { findResource } from "@/lib/access/resources";
import { actorFromSession, getConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { csvResponse } from "@/lib/http/csv";
import { problem } from "@/lib/http/problem";
import { denialReason } from "@/lib/permissions";

// "Who can use this" as CSV: every effective user of the resource with the path, streamed.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string; resourceId: string }> }) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to export.");
  const { env: envKey, resourceId } = await params;
  const env = await findEnvironmentByKey(envKey);
  if (!env) return problem(404, "No such environment.");
  const reason = denialReason(actorFromSession(session), "access_grants", "read", [env.id]);
  if (reason) return problem(403, reason);
  const resource = await findResource(env.id, resourceId);
  if (!resource) return problem(404, "No such resource in this environment.");
  return csvResponse(
    `who-can-use-${resource.name.replace(/[^\w.-]+/g, "-").toLowerCase()}-${env.key}.csv`,
    ["user_id", "email", "name", "via", "group", "grant_id", "grant_scope"],
    iterateWhoCanUse(resource),
    (r) => [r.userId, r.email, r.name, r.via, r.groupName ?? "", r.grantId, r.scope],
  );
}
