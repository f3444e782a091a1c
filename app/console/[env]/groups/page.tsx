import Link from "next/link";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { consolePage } from "@/lib/doors/http/console-page";
import { GROUP_SOURCE_WORDS as SOURCE_WORDS, groupsOverview } from "@/lib/groups/overview";
import { can } from "@/lib/permissions";
import { CreateGroupForm } from "../users/users-forms";

export const metadata = { title: "Groups" };

export default async function GroupsPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<{ q?: string }> }) {
  const { env, actor } = await consolePage(params);
  const q = ((await searchParams).q ?? "").slice(0, 200);
  const { rows, total } = await groupsOverview(env.id, q);
  const canWrite = can(actor, "groups", "write", [env.id]);
  const base = `/console/${env.key}/groups`;
  return (
    <>
      <PageHeader title={`Groups in ${env.name}`} description={`Who belongs together in ${env.name}: members come from the console, a directory (SCIM) or IdP sign-ins; grants to a group reach every member.`}>
        <a className="text-sm text-brand-700 underline" href={`/console/${env.key}/memberships/export`}>
          Export memberships
        </a>
      </PageHeader>
      <Card className="mb-6 flex flex-wrap items-end justify-between gap-4">
        <form method="get" action={base} className="flex items-end gap-2" role="search" aria-label="Search groups">
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Search
            <input name="q" type="search" defaultValue={q} placeholder="Group name" className="w-64 rounded-md border border-slate-300 px-3 py-2 text-sm" />
          </label>
          <button type="submit" className="rounded-md border border-slate-300 px-3 py-2 text-sm hover:bg-slate-50">
            Search
          </button>
          {q && (
            <Link href={base} className="px-2 py-2 text-sm text-brand-700 underline">
              Clear
            </Link>
          )}
        </form>
        {canWrite && <CreateGroupForm environmentId={env.id} className="flex items-end gap-2" />}
      </Card>
      <Card className="p-0">
        <SimpleTable
          caption={q ? `Groups matching “${q}” (${total})` : `Groups (${total})`}
          showCaption
          rows={rows}
          rowKey={(g) => g.id}
          empty={q ? `No group matches “${q}”.` : "No group yet."}
          columns={[
            {
              header: "Group",
              cell: (g) => (
                <>
                  <Link href={`${base}/${g.id}`} className="font-medium text-brand-700 hover:underline">
                    {g.name}
                  </Link>
                  {g.description && <p className="text-xs text-slate-500">{g.description}</p>}
                </>
              ),
            },
            {
              header: "Source",
              cell: (g) => (
                <span className="whitespace-nowrap">
                  <Badge tone={g.source === "system" ? "slate" : g.source === "manual" ? "blue" : "amber"}>{g.source}</Badge>{" "}
                  <span className="text-xs text-slate-500">{g.directory ? `directory ${g.directory}` : SOURCE_WORDS[g.source]}</span>
                </span>
              ),
            },
            { header: "Members", cell: (g) => g.memberCount.toLocaleString("en") },
            { header: "Mapped from IdP groups", cell: (g) => (g.mappedFrom.length ? g.mappedFrom.join(", ") : <span className="text-slate-500">none</span>) },
            { header: "Grants", cell: (g) => (g.grants.length ? g.grants.map((x) => x.label).join("; ") : <span className="text-slate-500">none</span>) },
          ]}
        />
        {total > rows.length && <p className="px-4 py-2 text-sm text-slate-500">The first {rows.length} of {total.toLocaleString("en")} by name: search to find the others.</p>}
      </Card>
    </>
  );
}
