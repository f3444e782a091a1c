import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { requireConsoleSession } from "@/lib/auth/session";
import { latestAuditEvents } from "@/lib/audit/queries";

export const metadata = { title: "Audit" };

export default async function AuditPage() {
  await requireConsoleSession();
  const events = await latestAuditEvents(100);
  return (
    <>
      <PageHeader title="Audit" description="The newest 100 events of the trail: every change and every sign-in, who, what, before and after." />
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
