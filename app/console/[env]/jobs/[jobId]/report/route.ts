import { actorFromSession } from "@/lib/auth/session";
import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { csvResponse } from "@/lib/doors/http/csv";
import { problem, problemFromError } from "@/lib/doors/http/problem";
import { importItems } from "@/lib/import/csv-import";
import { getJob, type JobKind } from "@/lib/jobs";
import { denialReason } from "@/lib/permissions";

async function* reportLines(jobId: string) {
  for (let after = 0; ; ) {
    const items = await importItems(jobId, { afterSeq: after, limit: 5000 });
    if (items.length === 0) return;
    yield items;
    after = items.at(-1)!.seq;
  }
}

// A job's report (import rows, bulk results) as CSV, streamed 5,000 lines at a time. Those job kinds
// change users, so a report is read with users read in the job's environment (an account-wide job,
// with none, under any environment's URL); a job of another environment is not found here, and
// other kinds of job (review upkeep) have no report.
const REPORT_HEADERS: Partial<Record<JobKind, [string, string]>> = {
  import_dry_run: ["row", "email"],
  import_apply: ["row", "email"],
  bulk_users: ["n", "user"],
};

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
  const headers = REPORT_HEADERS[job.kind];
  if (!headers) return problem(404, "This kind of job has no report.");
  const reason = denialReason(actorFromSession(context.session), "users", "read", job.environmentId ? [job.environmentId] : []);
  if (reason) return problem(403, reason);
  return csvResponse(
    `${job.kind.replaceAll("_", "-")}-report-${job.id.slice(0, 8)}.csv`,
    [...headers, "outcome", "detail"],
    reportLines(job.id),
    (i) => [i.seq, i.key ?? "", i.outcome, i.detail ?? ""],
  );
}
