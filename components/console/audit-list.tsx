import type { AuditEvent } from "@/db/schema";
import { Badge } from "@/components/ui/card";

/** A compact list of audit events (newest first) with their before/after. */
export function AuditList({ events }: { events: AuditEvent[] }) {
  if (events.length === 0) return <p className="mt-2 text-sm text-slate-500">No recorded event.</p>;
  return (
    <ul className="mt-2 flex flex-col divide-y divide-slate-100 text-sm">
      {events.map((e) => (
        <li key={e.id} className="py-2">
          <div className="flex flex-wrap items-center gap-2">
            <span className="font-mono text-xs">{e.action}</span>
            {e.environmentKey && <Badge>{e.environmentKey.toUpperCase()}</Badge>}
            {e.outcome !== "success" && <Badge tone="red">{e.outcome}</Badge>}
            <span className="text-slate-500">
              by {e.actorLabel} · {e.occurredAt.toISOString().slice(0, 19).replace("T", " ")}
            </span>
          </div>
          {(e.before != null || e.after != null) && (
            <details className="mt-1">
              <summary className="cursor-pointer text-xs text-slate-500">Before / after</summary>
              <pre className="mt-1 overflow-x-auto rounded bg-slate-50 p-2 text-xs">{JSON.stringify({ before: e.before, after: e.after }, null, 2)}</pre>
            </details>
          )}
        </li>
      ))}
    </ul>
  );
}
