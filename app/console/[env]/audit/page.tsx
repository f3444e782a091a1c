import { Badge, Card, PageHeader } from "@/components/ui/card";
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
        <table className="w-full text-left text-sm">
          <caption className="sr-only">Newest audit events</caption>
          <thead className="bg-slate-50 text-xs uppercase text-slate-500">
            <tr>
              <th scope="col" className="px-4 py-2">When</th>
              <th scope="col" className="px-4 py-2">Actor</th>
              <th scope="col" className="px-4 py-2">Action</th>
              <th scope="col" className="px-4 py-2">Target</th>
              <th scope="col" className="px-4 py-2">Environment</th>
              <th scope="col" className="px-4 py-2">Outcome</th>
            </tr>
          </thead>
          <tbody>
            {events.map((e) => (
              <tr key={e.id} className="border-t border-slate-100">
                <td className="whitespace-nowrap px-4 py-2 text-slate-600">{e.occurredAt.toISOString().replace("T", " ").slice(0, 19)}</td>
                <td className="px-4 py-2">{e.actorLabel}</td>
                <td className="px-4 py-2 font-mono text-xs">{e.action}</td>
                <td className="px-4 py-2">{e.targetLabel ?? e.targetId}</td>
                <td className="px-4 py-2">{e.environmentKey?.toUpperCase()}</td>
                <td className="px-4 py-2">
                  <Badge tone={e.outcome === "success" ? "green" : "red"}>{e.outcome}</Badge>
                  {e.reason && <span className="ml-2 text-slate-500">{e.reason}</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </>
  );
}
