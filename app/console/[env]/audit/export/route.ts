import { auditFilterInput, consoleAuditFilter, iterateAuditEvents } from "@/lib/audit/queries";
import { consoleRouteContext } from "@/lib/doors/http/console-route";
import { csvResponse } from "@/lib/doors/http/csv";
import { problemFromError } from "@/lib/doors/http/problem";
import { parseInput } from "@/lib/validation";

// The filtered audit trail as CSV, streamed a thousand events at a time, newest first. A sealed
// event carries its chain position, hash, the previous hash and the content the hash covers, so a
// copy can be checked away from the database (scripts/verify-audit-csv.py).
export async function GET(request: Request, { params }: { params: Promise<{ env: string }> }) {
  const envKey = (await params).env;
  const context = await consoleRouteContext(envKey, { read: "audit" });
  if (context instanceof Response) return context;
  // What the page shows: this environment and the account-wide events, unless the URL says otherwise.
  const filter = consoleAuditFilter(Object.fromEntries(new URL(request.url).searchParams), envKey);
  try {
    parseInput(auditFilterInput, filter); // bad filters: 400 with the field errors, before streaming
  } catch (error) {
    return problemFromError(error);
  }
  return csvResponse(
    `audit-${new Date().toISOString().slice(0, 10)}.csv`,
    ["id", "occurred_at", "actor_type", "actor_id", "actor", "action", "target_type", "target_id", "target", "environment", "outcome", "reason", "before", "after", "request_id", "ip", "seq", "hash", "prev_hash", "sealed_content"],
    iterateAuditEvents(filter),
    (e) => [e.id, e.occurredAt.toISOString(), e.actorType, e.actorId ?? "", e.actorLabel, e.action, e.targetType, e.targetId ?? "", e.targetLabel ?? "", e.environmentKey ?? "", e.outcome, e.reason ?? "", e.before ?? "", e.after ?? "", e.requestId ?? "", e.ip ?? "", e.seq ?? "", e.hash ?? "", e.prevHash ?? "", e.sealedContent ?? ""],
  );
}
