import { getConsoleSession } from "@/lib/auth/session";
import { csvResponse } from "@/lib/http/csv";
import { problem, problemFromError } from "@/lib/http/problem";
import { importItems } from "@/lib/import/csv-import";
import { getJob } from "@/lib/jobs";

async function* reportLines(jobId: string) {
  for (let after = 0; ; ) {
    const items = await importItems(jobId, { afterSeq: after, limit: 5000 });
    if (items.length === 0) return;
    yield items;
    after = items.at(-1)!.seq;
  }
}

// A job's report (import rows, bulk results) as CSV, streamed 5,000 lines at a time.
export async function GET(_request: Request, { params }: { params: Promise<{ jobId: string }> }) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to download the report.");
  const { jobId } = await params;
  let job;
  try {
    job = await getJob(jobId);
  } catch (error) {
    return problemFromError(error);
  }
  const isImport = job.kind !== "bulk_users";
  return csvResponse(
    `${job.kind.replace("_", "-")}-report-${job.id.slice(0, 8)}.csv`,
    [isImport ? "row" : "n", isImport ? "email" : "user", "outcome", "detail"],
    reportLines(job.id),
    (i) => [i.seq, i.key ?? "", i.outcome, i.detail ?? ""],
  );
}
