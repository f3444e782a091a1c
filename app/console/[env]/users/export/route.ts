import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { csvResponse } from "@/lib/doors/http/csv";
import { problemFromError } from "@/lib/doors/http/problem";
import { iterateUsers, listUsersInput } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { parseInput } from "@/lib/validation";

// The users table as filtered and sorted, streamed as CSV a thousand rows at a time.
export async function GET(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const context = await consoleRouteContext((await params).env);
  if (context instanceof Response) return context;
  const { env } = context;
  let input;
  try {
    input = parseInput(listUsersInput, { ...loadUsersTableState(request.url), environmentId: env.id, withTotal: false });
  } catch (error) {
    return problemFromError(error);
  }
  return csvResponse(
    `users-${env.key}-${new Date().toISOString().slice(0, 10)}.csv`,
    ["id", "email", "name", "status", "source", "environments", `groups_${env.key}`, "last_sign_in_at", "created_at"],
    iterateUsers(input),
    (u) => [u.id, u.email, u.name, u.status, u.source, u.environments.join(";"), u.groups.join(";"), u.lastSignInAt ?? "", u.createdAt],
  );
}
