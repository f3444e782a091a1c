import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { FEATURE_LABELS } from "@/db/enums";
import { listAccessRequests, type AccessRequestView } from "@/lib/access-requests";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { RequestActions } from "./request-actions";

export const metadata = { title: "Access requests" };

const when = (d: Date) => d.toISOString().slice(0, 16).replace("T", " ");
const target = (r: AccessRequestView) => `${r.resourceName}${r.tool ? ` (tool ${r.tool})` : ""}`;

export default async function AccessRequestsPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const requests = await listAccessRequests({ actor }, { environmentId: env.id });
  const canDecide = can(actor, "access_requests", "write", [env.id]);
  const open = requests.filter((r) => r.status === "pending");
  const decided = requests.filter((r) => r.status !== "pending");
  return (
    <>
      <PageHeader
        title="Access requests"
        description={`What users of ${env.name} asked for (from the MCP server's request_access tool). Approving adds a direct grant on the resource or tool; denying tells the user why.`}
      />
      <Card className="mb-6 p-0">
        <SimpleTable
          caption={`Open requests (${open.length})`}
          showCaption
          rows={open}
          rowKey={(r) => r.id}
          empty="No open request."
          columns={[
            { header: "User", cell: (r) => <span>{r.userName} <span className="text-slate-500">{r.userEmail}</span></span> },
            { header: "Asks for", cell: (r) => <span>{target(r)} <span className="text-slate-500">· {FEATURE_LABELS[r.feature]}</span></span> },
            { header: "Why", cell: (r) => r.reason },
            { header: "Asked", cell: (r) => when(r.createdAt) },
            { header: "Actions", hideHeader: true, cell: (r) => (canDecide ? <RequestActions requestId={r.id} label={`${r.userEmail} → ${target(r)}`} /> : null) },
          ]}
        />
      </Card>
      <Card className="p-0">
        <SimpleTable
          caption="Decided"
          showCaption
          rows={decided}
          rowKey={(r) => r.id}
          empty="Nothing decided yet."
          columns={[
            { header: "User", cell: (r) => r.userEmail },
            { header: "Asked for", cell: (r) => target(r) },
            { header: "Decision", cell: (r) => <Badge tone={r.status === "approved" ? "green" : "red"}>{r.status}</Badge> },
            { header: "By", cell: (r) => r.decidedBy ?? "" },
            { header: "Comment", cell: (r) => r.comment ?? "" },
            { header: "When", cell: (r) => (r.decidedAt ? when(r.decidedAt) : "") },
          ]}
        />
      </Card>
    </>
  );
}
