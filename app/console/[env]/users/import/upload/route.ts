import { getConsoleSession, actorFromSession } from "@/lib/auth/session";
import { problem, problemFromError } from "@/lib/http/problem";
import { inspectUpload, saveUpload } from "@/lib/import/csv-import";
import { denialReason } from "@/lib/permissions";

// The CSV arrives as the raw request body and is streamed into Postgres chunk by chunk.
export async function POST(request: Request) {
  const session = await getConsoleSession();
  if (!session) return problem(401, "Sign in to import.");
  const reason = denialReason(actorFromSession(session), "users", "write", "any");
  if (reason) return problem(403, reason);
  if (!request.body) return problem(400, "Send the CSV file as the request body.");
  try {
    const name = decodeURIComponent(request.headers.get("x-file-name") ?? "upload.csv");
    const upload = await saveUpload(request.body, name, session.member.email);
    const inspected = await inspectUpload(upload.id);
    return Response.json({ uploadId: upload.id, bytes: upload.bytes, ...inspected });
  } catch (error) {
    return problemFromError(error);
  }
}
