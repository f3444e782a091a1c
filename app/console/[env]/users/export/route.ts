import { stringify } from "csv-stringify/sync";
import { getConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { problem, problemFromError } from "@/lib/http/problem";
import { iterateUsers, listUsersInput } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { parseInput } from "@/lib/validation";

// The users table as filtered and sorted, streamed as CSV a thousand rows at a time.
export async function GET(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to export.");
  const { env: envKey } = await params;
  const env = await findEnvironmentByKey(envKey);
  if (!env) return problem(404, "No such environment.");
  let input;
  try {
    input = parseInput(listUsersInput, { ...loadUsersTableState(request.url), environmentId: env.id, withTotal: false });
  } catch (error) {
    return problemFromError(error);
  }
  const rows = iterateUsers(input);
  const encoder = new TextEncoder();
  let headerSent = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!headerSent) {
          headerSent = true;
          controller.enqueue(encoder.encode(stringify([["id", "email", "name", "status", "source", "environments", `groups_${env.key}`, "last_sign_in_at", "created_at"]])));
        }
        const next = await rows.next();
        if (next.done) return controller.close();
        controller.enqueue(
          encoder.encode(
            stringify(next.value.map((u) => [u.id, u.email, u.name, u.status, u.source, u.environments.join(";"), u.groups.join(";"), u.lastSignInAt ?? "", u.createdAt])),
          ),
        );
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
  const stamp = new Date().toISOString().slice(0, 10);
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="users-${env.key}-${stamp}.csv"`,
      "cache-control": "no-store",
    },
  });
}
