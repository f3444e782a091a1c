import Link from "next/link";
import { notFound } from "next/navigation";
import type { SearchParams } from "nuqs/server";
import { Card, PageHeader } from "@/components/ui/card";
import { actorFromSession, requireConsoleSession } from "@/lib/auth/session";
import { environmentSummaries, findEnvironmentByKey, listEnvironments } from "@/lib/environments";
import { findGroup, listGroups } from "@/lib/groups";
import { can } from "@/lib/permissions";
import { listUsersForPage } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { AddUserDialog, GroupsPanel } from "./users-forms";
import { UsersTable } from "./users-table";

export const metadata = { title: "Users & groups" };

export default async function UsersPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<SearchParams> }) {
  const session = await requireConsoleSession();
  const { env: envKey } = await params;
  const env = await findEnvironmentByKey(envKey);
  if (!env) notFound();
  const state = await loadUsersTableState(searchParams);
  const actor = actorFromSession(session);

  const [environments, groupList, { list, problem }, summaries] = await Promise.all([
    listEnvironments(),
    listGroups(env.id, undefined, 50),
    listUsersForPage({ ...state, environmentId: env.id }),
    environmentSummaries(),
  ]);
  const summary = summaries.find((s) => s.id === env.id);
  const group = state.group ? await findGroup(env.id, state.group) : undefined;
  const filterGroup = group ? { id: group.id, name: group.name } : null;

  return (
    <>
      <PageHeader title="Users & groups" description={`Who may enter ${env.name}, and the groups of ${env.name}.`}>
        <div className="flex gap-2">
        {can(actor, "users", "write", "any") && (
          <Link href={`/console/${env.key}/users/import`} className="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium hover:bg-slate-50">
            Import CSV
          </Link>
        )}
        {can(actor, "users", "write", [env.id]) && (
          <AddUserDialog
            currentEnvironmentId={env.id}
            environments={environments.map((e) => ({ id: e.id, name: e.name }))}
          />
        )}
        </div>
      </PageHeader>
      <div className="grid gap-6 2xl:grid-cols-[1fr_22rem]">
        <Card className="p-0">
          {list ? (
            <UsersTable
              environment={{ id: env.id, key: env.key, name: env.name }}
              environments={environments.map((e) => ({ id: e.id, key: e.key, name: e.name }))}
              list={list}
              canWrite={can(actor, "users", "write", "any")}
              filterGroup={filterGroup}
            />
          ) : (
            <div role="alert" className="p-6 text-sm">
              <p className="font-medium text-red-800">This view cannot be shown: {problem}</p>
              <Link href={`/console/${env.key}/users`} className="mt-2 inline-block text-brand-700 underline">
                Reset the filters
              </Link>
            </div>
          )}
        </Card>
        <GroupsPanel
          environmentId={env.id}
          environmentKey={env.key}
          environmentName={env.name}
          groups={groupList}
          totalGroups={summary?.groupCount ?? groupList.length}
          canWrite={can(actor, "groups", "write", [env.id])}
        />
      </div>
    </>
  );
}
