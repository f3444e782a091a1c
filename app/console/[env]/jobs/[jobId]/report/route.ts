import { actorFromSession } from "@/lib/auth/session";
import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { csvResponse } from "@/lib/doors/http/csv";
import { problem, problemFromError } from "@/lib/doors/http/problem";
import { importItems } from "@/lib/import/csv-import";
import { getJob } from "@/lib/jobs";
import { denialReason } from "@/lib/permissions";

async function* reportLines(jobId: string) {
  for (let after = 0; ; ) {
    const items = await importItems(jobId, { afterSeq: after, limit: 5000 });
    if (items.length === 0) return;
    yield items;
    after = items.at(-1)!.seq;
  }
}

// A job's report (import rows, bulk results) as CSV, streamed 5,000 lines at a time. Every job kind
// so far changes users, so its report is read with users read in the job's environment (an
// account-wide job, with none, under any environment's URL); a job of another environment is
// not found here.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string; jobId: string }> }) {
  const { env: envKey, jobId } = await params;
  const context = await consoleRouteContext(envKey, { signIn: "Sign in to download the report." });
  if (context instanceof Response) return context;
  let job;
  try {
    job = await getJob(jobId);
  } catch (error) {
    return problemFromError(error);
  }
  if (job.environmentId && job.environmentId !== context.env.id) return problem(404, "Job not found.");
  const reason = denialReason(actorFromSession(context.session), "users", "read", job.environmentId ? [job.environmentId] : []);
  if (reason) return problem(403, reason);
  const isImport = job.kind !== "bulk_users";
  return csvResponse(
    `${job.kind.replace("_", "-")}-report-${job.id.slice(0, 8)}.csv`,
    [isImport ? "row" : "n", isImport ? "email" : "user", "outcome", "detail"],
    reportLines(job.id),
    (i) => [i.seq, i.key ?? "", i.outcome, i.detail ?? ""],
  );
}
