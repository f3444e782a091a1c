import Link from "next/link";
import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { FEATURE_LABELS } from "@/db/enums";
import { listGrants } from "@/lib/access/grants";
import { whoCanUse } from "@/lib/access/policy";
import { findResource, RESOURCE_NOUN } from "@/lib/access/resources";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { mcpServerUrl } from "@/lib/tokens/mint";
import { ExplainForm, GrantsEditor, ResourceSettings } from "../access-forms";
import { grantRows } from "../grant-rows";

export const metadata = { title: "Resource" };

const TABS = [
  ["access", "End-user access"],
  ["who", "Who can use this"],
  ["explain", "Explain"],
] as const;

export default async function ResourcePage({ params, searchParams }: { params: Promise<{ env: string; resourceId: string }>; searchParams: Promise<{ tab?: string }> }) {
  const { env, actor, params: { resourceId } } = await consolePage(params);
  const resource = await findResource(env.id, resourceId);
  if (!resource) notFound();
  const requested = (await searchParams).tab;
  const tab = TABS.find(([t]) => t === requested)?.[0] ?? "access";
  const noun = RESOURCE_NOUN[resource.feature];
  const base = `/console/${env.key}/access/${resource.id}`;
  return (
    <>
      <Link href={`/console/${env.key}/access?feature=${resource.feature}`} className="text-sm text-brand-700 hover:underline">
        ← Access: {FEATURE_LABELS[resource.feature]}
      </Link>
      <PageHeader title={resource.name} description={resource.description || `A ${noun} of ${env.name}.`}>
        <Badge>{FEATURE_LABELS[resource.feature]}</Badge>
      </PageHeader>
      {resource.feature === "mcp" && (
        <p className="mb-4 text-sm text-slate-600">
          MCP endpoint (streamable HTTP, bearer access token with this URL as audience): <code className="rounded bg-slate-100 px-1">{mcpServerUrl(resource.id)}</code>
        </p>
      )}
      {can(actor, "resources", "write", [env.id]) && (
        <Card className="mb-6">
          <ResourceSettings resource={resource} noun={noun} backHref={`/console/${env.key}/access?feature=${resource.feature}`} />
        </Card>
      )}
      <nav aria-label="Resource views" className="mb-4 flex gap-2">
        {TABS.map(([t, label]) => (
          <Link key={t} href={`${base}?tab=${t}`} aria-current={t === tab ? "page" : undefined} className={`rounded-md px-3 py-1.5 text-sm ${t === tab ? "bg-brand-600 text-white" : "bg-white text-slate-700 shadow-sm hover:bg-slate-50"}`}>
            {label}
          </Link>
        ))}
      </nav>
      <Card>
        {tab === "access" && <AccessTab envId={env.id} resource={resource} canWrite={can(actor, "access_grants", "write", [env.id])} />}
        {tab === "who" && <WhoTab resource={resource} exportHref={`${base}/who`} />}
        {tab === "explain" && <ExplainForm environment={env.key} environmentId={env.id} feature={resource.feature} resourceId={resource.id} />}
      </Card>
    </>
  );
}

async function AccessTab({ envId, resource, canWrite }: { envId: string; resource: { id: string; feature: "agent_studio" | "workato_go" | "mcp"; name: string }; canWrite: boolean }) {
  const [own, wide] = await Promise.all([listGrants({ environmentId: envId, resourceId: resource.id }), listGrants({ environmentId: envId, feature: resource.feature, featureWide: true })]);
  return (
    <>
      <GrantsEditor environmentId={envId} feature={resource.feature} resourceId={resource.id} grants={grantRows(own)} canWrite={canWrite} label={resource.name} />
      {wide.length > 0 && (
        <>
          <h3 className="mb-2 mt-6 text-sm font-semibold">Also allowed through grants on all of {FEATURE_LABELS[resource.feature]}</h3>
          <GrantsEditor environmentId={envId} feature={resource.feature} resourceId={null} grants={grantRows(wide, true)} canWrite={false} label="" />
        </>
      )}
    </>
  );
}

async function WhoTab({ resource, exportHref }: { resource: Parameters<typeof whoCanUse>[0]; exportHref: string }) {
  const rows = await whoCanUse(resource, { limit: 201 });
  return (
    <>
      <div className="mb-3 flex items-center justify-between">
        <p className="text-sm text-slate-600">
          Active users with access to the environment who hold a grant on this resource or its whole feature, directly or through a group.
          {rows.length > 200 ? " The first 200 paths are shown; the export has all." : ""}
        </p>
        <a className="text-sm text-brand-700 underline" href={exportHref} download>
          Export CSV
        </a>
      </div>
      <table className="w-full text-left text-sm" data-testid="who-can-use">
        <caption className="sr-only">Who can use this</caption>
        <thead className="bg-slate-50 text-xs uppercase text-slate-500">
          <tr>
            <th scope="col" className="px-3 py-2">User</th>
            <th scope="col" className="px-3 py-2">Path</th>
          </tr>
        </thead>
        <tbody>
          {rows.length === 0 && (
            <tr>
              <td colSpan={2} className="px-3 py-3 text-slate-500">Nobody can use it yet.</td>
            </tr>
          )}
          {rows.slice(0, 200).map((r) => (
            <tr key={`${r.userId}-${r.grantId}`} className="border-t border-slate-100">
              <td className="px-3 py-2">
                {r.name} <span className="text-slate-500">{r.email}</span>
              </td>
              <td className="px-3 py-2">
                {r.via === "group" ? `member of ${r.groupName} → ` : "direct → "}
                {r.tool ? `grant on the ${r.tool} tool only` : r.scope === "resource" ? "grant on this resource" : "grant on the whole feature"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
