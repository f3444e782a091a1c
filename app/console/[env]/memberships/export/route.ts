import { stringify } from "csv-stringify/sync";
import { getConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { problem } from "@/lib/http/problem";
import { iterateMemberships } from "@/lib/groups/export";

// Every membership of an environment (group, user, source, since), streamed as CSV.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string }> }) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to export.");
  const { env: envKey } = await params;
  const env = await findEnvironmentByKey(envKey);
  if (!env) return problem(404, "No such environment.");
  const rows = iterateMemberships(env.id);
  const encoder = new TextEncoder();
  let headerSent = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!headerSent) {
        headerSent = true;
        controller.enqueue(encoder.encode(stringify([["group", "group_source", "email", "name", "user_status", "membership_source", "member_since"]])));
      }
      const next = await rows.next();
      if (next.done) return controller.close();
      controller.enqueue(encoder.encode(stringify(next.value.map((m) => [m.group, m.groupSource, m.email, m.name, m.status, m.source, m.since]))));
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="memberships-${env.key}-${new Date().toISOString().slice(0, 10)}.csv"`,
      "cache-control": "no-store",
    },
  });
}
