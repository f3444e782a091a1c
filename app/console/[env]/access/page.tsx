import Link from "next/link";
import { Card, PageHeader } from "@/components/ui/card";
import { FEATURES, FEATURE_LABELS, type Feature } from "@/db/enums";
import { listGrants } from "@/lib/access/grants";
import { listResources, RESOURCE_NOUN } from "@/lib/access/resources";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { CreateResourceForm, GrantsEditor } from "./access-forms";
import { grantRows } from "./grant-rows";

export const metadata = { title: "Access" };

export default async function AccessPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<{ feature?: string }> }) {
  const { env, actor } = await consolePage(params);
  const requested = (await searchParams).feature;
  const feature: Feature = FEATURES.includes(requested as Feature) ? (requested as Feature) : "agent_studio";
  const [resources, wide] = await Promise.all([listResources(env.id, feature), listGrants({ environmentId: env.id, feature, featureWide: true })]);
  const noun = RESOURCE_NOUN[feature];
  return (
    <>
      <PageHeader title="Access" description={`Which groups and users may use ${FEATURE_LABELS[feature]} in ${env.name}: the whole feature, or one ${noun} at a time.`} />
      <nav aria-label="Features" className="mb-4 flex gap-2">
        {FEATURES.map((f) => (
          <Link
            key={f}
            href={`/console/${env.key}/access?feature=${f}`}
            aria-current={f === feature ? "page" : undefined}
            className={`rounded-md px-3 py-1.5 text-sm ${f === feature ? "bg-brand-600 text-white" : "bg-white text-slate-700 shadow-sm hover:bg-slate-50"}`}
          >
            {FEATURE_LABELS[f]}
          </Link>
        ))}
      </nav>
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">All of {FEATURE_LABELS[feature]}</h2>
        <p className="mb-3 text-sm text-slate-600">A grant here lets its groups and users use every {noun} of {env.name}, present and future.</p>
        <GrantsEditor environmentId={env.id} feature={feature} resourceId={null} grants={grantRows(wide)} canWrite={can(actor, "access_grants", "write", [env.id])} label={`all of ${FEATURE_LABELS[feature]}`} />
      </Card>
      <Card>
        <h2 className="mb-3 text-base font-semibold">{noun.charAt(0).toUpperCase() + noun.slice(1)}s</h2>
        {can(actor, "resources", "write", [env.id]) && (
          <div className="mb-4">
            <CreateResourceForm environmentId={env.id} feature={feature} noun={noun} />
          </div>
        )}
        <table className="w-full text-left text-sm">
          <caption className="sr-only">{noun}s of {env.name}</caption>
          <thead className="bg-slate-50 text-xs uppercase text-slate-500">
            <tr>
              <th scope="col" className="px-3 py-2">Name</th>
              <th scope="col" className="px-3 py-2">Description</th>
              <th scope="col" className="px-3 py-2">Own grants</th>
            </tr>
          </thead>
          <tbody>
            {resources.length === 0 && (
              <tr>
                <td colSpan={3} className="px-3 py-3 text-slate-500">No {noun}s yet.</td>
              </tr>
            )}
            {resources.map((r) => (
              <tr key={r.id} className="border-t border-slate-100">
                <td className="px-3 py-2">
                  <Link className="text-brand-700 hover:underline" href={`/console/${env.key}/access/${r.id}`}>
                    {r.name}
                  </Link>
                </td>
                <td className="px-3 py-2 text-slate-600">{r.description}</td>
                <td className="px-3 py-2">{r.grantCount}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Card>
    </>
  );
}
