import { stringify } from "csv-stringify/sync";
import { getConsoleSession } from "@/lib/auth/session";
import { problem, problemFromError } from "@/lib/http/problem";
import { importItems } from "@/lib/import/csv-import";
import { getJob } from "@/lib/jobs";

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
  const encoder = new TextEncoder();
  let after = 0;
  let started = false;
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        controller.enqueue(encoder.encode(stringify([[isImport ? "row" : "n", isImport ? "email" : "user", "outcome", "detail"]])));
      }
      const items = await importItems(job.id, { afterSeq: after, limit: 5000 });
      if (items.length === 0) return controller.close();
      after = items.at(-1)!.seq;
      controller.enqueue(encoder.encode(stringify(items.map((i) => [i.seq, i.key ?? "", i.outcome, i.detail ?? ""]))));
    },
  });
  return new Response(stream, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${job.kind.replace("_", "-")}-report-${job.id.slice(0, 8)}.csv"`,
      "cache-control": "no-store",
    },
  });
}
