import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { storedCsvResponse } from "@/lib/doors/http/csv";
import { problem } from "@/lib/doors/http/problem";
import { reviewReport } from "@/lib/reviews";

// A closed access review's signed-off report: the CSV exactly as hashed at closing; its SHA-256 is
// sent beside it and is in the closing audit event.
export async function GET(_request: Request, { params }: { params: Promise<{ env: string; reviewId: string }> }) {
  const { env: envKey, reviewId } = await params;
  const context = await consoleRouteContext(envKey, { read: "access_reviews", signIn: "Sign in to download the report." });
  if (context instanceof Response) return context;
  const { env } = context;
  const report = await reviewReport(env.id, reviewId);
  if (!report) return problem(404, "No signed-off report: the review does not exist here or is still open.");
  const filename = `access-review-${report.name.replace(/[^\w.-]+/g, "-").slice(0, 60)}.csv`;
  return storedCsvResponse(filename, report.csv, { "x-content-sha256": report.sha256 });
}
