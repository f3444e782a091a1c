import { getConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { iterateMemberships } from "@/lib/groups/export";
import { csvResponse } from "@/lib/http/csv";
import { problem } from "@/lib/http/problem";

// Every membership of an environment (group, user, source, since), streamed as CSV.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string }> }) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to export.");
  const { env: envKey } = await params;
  const env = await findEnvironmentByKey(envKey);
  if (!env) return problem(404, "No such environment.");
  return csvResponse(
    `memberships-${env.key}-${new Date().toISOString().slice(0, 10)}.csv`,
    ["group", "group_source", "email", "name", "user_status", "membership_source", "member_since"],
    iterateMemberships(env.id),
    (m) => [m.group, m.groupSource, m.email, m.name, m.status, m.source, m.since],
  );
}
