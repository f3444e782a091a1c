import { iterateMemberships } from "@/lib/groups/export";
import { csvResponse } from "@/lib/doors/http/csv";
import { consoleRouteContext } from "@/lib/doors/http/console-route";

// Every membership of an environment (group, user, source, since), streamed as CSV.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string }> }) {
  const context = await consoleRouteContext((await params).env);
  if (context instanceof Response) return context;
  const { env } = context;
  return csvResponse(
    `memberships-${env.key}-${new Date().toISOString().slice(0, 10)}.csv`,
    ["group", "group_source", "email", "name", "user_status", "membership_source", "member_since"],
    iterateMemberships(env.id),
    (m) => [m.group, m.groupSource, m.email, m.name, m.status, m.source, m.since],
  );
}
