import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { problem, problemFromError } from "@/lib/doors/http/problem";
import { inspectUpload, saveUpload } from "@/lib/import/csv-import";

// The CSV arrives as the raw request body and is streamed into Postgres chunk by chunk. Only who
// may change users in this environment (where the wizard imports it) uploads.
export async function POST(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const context = await consoleRouteContext((await params).env, { write: "users", signIn: "Sign in to import." });
  if (context instanceof Response) return context;
  if (!request.body) return problem(400, "Send the CSV file as the request body.");
  // The file's name, percent-encoded by the wizard; one that does not decode is refused with why.
  let name: string;
  try {
    name = decodeURIComponent(request.headers.get("x-file-name") ?? "upload.csv");
  } catch {
    return problem(400, "The X-File-Name header is not a percent-encoded file name.");
  }
  try {
    const upload = await saveUpload(request.body, name, context.session.member.email);
    const inspected = await inspectUpload(upload.id);
    return Response.json({ uploadId: upload.id, bytes: upload.bytes, ...inspected });
  } catch (error) {
    return problemFromError(error);
  }
}
