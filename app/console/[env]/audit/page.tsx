import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { actorFromSession, requireConsoleSession } from "@/lib/auth/session";
import { can } from "@/lib/permissions";
import { ChainControls } from "./chain-controls";
import { latestAuditEvents } from "@/lib/audit/queries";

export const metadata = { title: "Audit" };

export default async function AuditPage() {
  const session = await requireConsoleSession();
  const events = await latestAuditEvents(100);
  return (
    <>
      <PageHeader title="Audit" description="The newest 100 events of the trail: every change and every sign-in, who, what, before and after." />
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Integrity</h2>
        <p className="mb-3 text-sm text-slate-600">
          The trail is append-only in the database (updates and deletes are refused) and every event is chained to the one before by a SHA-256 hash. Verify walks
          the whole chain and names the first broken link.
        </p>
        <ChainControls canPrune={can(actorFromSession(session), "audit", "write")} />
      </Card>
      <Card className="p-0">
        <SimpleTable
          caption="Newest audit events"
          rows={events}
          rowKey={(e) => e.id}
          empty="No event yet."
          columns={[
            { header: "When", cell: (e) => e.occurredAt.toISOString().replace("T", " ").slice(0, 19), className: "whitespace-nowrap px-3 py-2 text-slate-600" },
            { header: "Actor", cell: (e) => e.actorLabel },
            { header: "Action", cell: (e) => e.action, className: "px-3 py-2 font-mono text-xs" },
            { header: "Target", cell: (e) => e.targetLabel ?? e.targetId, className: "break-all px-3 py-2" },
            { header: "Environment", cell: (e) => e.environmentKey?.toUpperCase() },
            {
              header: "Outcome",
              cell: (e) => (
                <>
                  <Badge tone={e.outcome === "success" ? "green" : "red"}>{e.outcome}</Badge>
                  {e.reason && <span className="ml-2 text-slate-500">{e.reason}</span>}
                </>
              ),
            },
          ]}
        />
      </Card>
    </>
  );
}
