import { contextFromSession } from "@/lib/auth/session";
import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { HISTORY_CSV_HEADER, historyCsvRow, membershipsAsOf } from "@/lib/history";
import { csvResponse } from "@/lib/doors/http/csv";
import { problemFromError } from "@/lib/doors/http/problem";

// Memberships as of a date (the history page's query), as CSV.
export async function GET(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const context = await consoleRouteContext((await params).env);
  if (context instanceof Response) return context;
  const { session, env } = context;
  const q = new URL(request.url).searchParams;
  try {
    const result = await membershipsAsOf(await contextFromSession(session), {
      environmentId: env.id,
      subject: q.get("subject") ?? undefined,
      group: q.get("group") || undefined,
      user: q.get("user") || undefined,
      at: q.get("at") ?? "",
    });
    const stamp = result.at.toISOString().replace(/[:.]/g, "-").slice(0, 19);
    async function* once() {
      yield result.rows;
    }
    return csvResponse(`${result.subject.type}-${env.key}-as-of-${stamp}.csv`, HISTORY_CSV_HEADER, once(), historyCsvRow);
  } catch (error) {
    return problemFromError(error);
  }
}
