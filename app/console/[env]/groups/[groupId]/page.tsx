import Link from "next/link";
import { notFound } from "next/navigation";
import type { SearchParams } from "nuqs/server";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { listEnvironments } from "@/lib/environments";
import { consolePage } from "@/lib/doors/http/console-page";
import { GROUP_SOURCE_WORDS, groupDetail, membersBySourceWords } from "@/lib/groups/overview";
import { can } from "@/lib/permissions";
import { listUsersForPage } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { UsersCard } from "../../users/users-table";
import { AddMembers } from "./add-members";
import { GroupSettings } from "./group-settings";
import { counted } from "@/lib/domain/words";

export const metadata = { title: "Group" };

const WHAT_IT_IS: Record<string, (env: string, directory: string | null) => string> = {
  manual: (env) => `A group made in the console for ${env}: admins add and remove its members here (and IdP sign-ins may add members where a mapping says so).`,
  scim: (_env, directory) => `A group your directory${directory ? ` “${directory}”` : ""} keeps in sync over SCIM: it owns the name and the members it syncs. Members added here stay beside them; a directory member removed here comes back when the directory sends the group again, unless an access review excludes them.`,
  saml: () => "A group created by IdP sign-ins (the IdP's groups attribute): each sign-in adds or removes its members.",
  system: (env) => `Everyone who may enter ${env}: grant or revoke the environment to change who is in it.`,
};

export default async function GroupPage({ params, searchParams }: { params: Promise<{ env: string; groupId: string }>; searchParams: Promise<SearchParams> }) {
  const { env, actor, params: { groupId } } = await consolePage(params);
  const group = await groupDetail(env.id, groupId);
  if (!group) notFound();
  const state = await loadUsersTableState(searchParams);
  const canWrite = can(actor, "memberships", "write", [env.id]) && group.source !== "system";
  const canChange = can(actor, "groups", "write", [env.id]) && group.source === "manual";
  const { list, problem } = await listUsersForPage({ ...state, scope: "env", group: group.id, environmentId: env.id });
  const environments = await listEnvironments();

  return (
    <>
      <Link href={`/console/${env.key}/groups`} className="text-sm text-brand-700 hover:underline">
        ← Groups in {env.name}
      </Link>
      <PageHeader title={group.name} description={group.description || `A group of ${env.name}.`}>
        <div className="flex items-center gap-2">
          <Badge>{group.source}</Badge>
          <span className="text-sm text-slate-600">{counted(group.memberCount, "member")}</span>
        </div>
      </PageHeader>
      <div className="mb-6 grid gap-6 lg:grid-cols-2">
        <Card>
          <h2 className="text-base font-semibold">What it is</h2>
          <p className="mt-2 text-sm text-slate-700" data-testid="group-what">
            {WHAT_IT_IS[group.source]!(env.name, group.directory)}
          </p>
          <dl className="mt-3 grid grid-cols-[max-content_1fr] gap-x-4 gap-y-1 text-sm">
            <dt className="text-slate-500">Source</dt>
            <dd>{GROUP_SOURCE_WORDS[group.source]}</dd>
            <dt className="text-slate-500">Members by source</dt>
            <dd data-testid="members-by-source">{membersBySourceWords(group)}</dd>
            <dt className="text-slate-500">Mapped from IdP groups</dt>
            <dd>{group.mappedFrom.length ? group.mappedFrom.join(", ") : "none (map one on an identity provider's page)"}</dd>
          </dl>
          {canChange && (
            <div className="mt-4 border-t border-slate-100 pt-4">
              <GroupSettings envKey={env.key} group={{ id: group.id, name: group.name, description: group.description, standingExclusions: group.standingExclusions }} />
            </div>
          )}
        </Card>
        <Card>
          <h2 className="text-base font-semibold">What it grants</h2>
          {group.grants.length ? (
            <ul className="mt-2 flex flex-col gap-1 text-sm" aria-label={`Grants of ${group.name}`}>
              {group.grants.map((g) => (
                <li key={g.id}>
                  {g.resourceId ? (
                    <Link href={`/console/${env.key}/access/${g.resourceId}`} className="text-brand-700 hover:underline">
                      {g.label}
                    </Link>
                  ) : (
                    <Link href={`/console/${env.key}/access?feature=${g.feature}`} className="text-brand-700 hover:underline">
                      {g.label}
                    </Link>
                  )}
                </li>
              ))}
            </ul>
          ) : (
            <p className="mt-2 text-sm text-slate-600">Nothing yet: grant it a feature or a resource on Access.</p>
          )}
        </Card>
      </div>
      {canWrite && <AddMembers environmentId={env.id} group={{ id: group.id, name: group.name }} />}
      <UsersCard
        list={list}
        problem={problem}
        resetHref={`/console/${env.key}/groups/${group.id}`}
        environment={{ id: env.id, key: env.key, name: env.name }}
        environments={environments.map((e) => ({ id: e.id, key: e.key, name: e.name }))}
        canWrite={canWrite}
        writableEnvironmentIds={environments.filter((e) => can(actor, "environment_access", "write", [e.id])).map((e) => e.id)}
        filterGroup={null}
        fixedGroup={{ id: group.id, name: group.name }}
      />
    </>
  );
}
