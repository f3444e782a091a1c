import Link from "next/link";
import type { SearchParams } from "nuqs/server";
import { PageHeader } from "@/components/ui/card";
import { listEnvironments } from "@/lib/environments";
import { findGroup } from "@/lib/groups";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { listUsersForPage } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { AddUserDialog } from "./users-forms";
import { UsersCard } from "./users-table";

export const metadata = { title: "Users" };

export default async function UsersPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<SearchParams> }) {
  const { env, actor } = await consolePage(params);
  const state = await loadUsersTableState(searchParams);
  // "Add a user" from the command palette opens the dialog at once.
  const addNow = (await searchParams).add === "1";

  const [environments, { list, problem }] = await Promise.all([listEnvironments(), listUsersForPage({ ...state, environmentId: env.id })]);
  const group = state.group ? await findGroup(env.id, state.group) : undefined;
  const filterGroup = group ? { id: group.id, name: group.name } : null;

  return (
    <>
      <PageHeader
        title="Users"
        description={
          <>
            Who may enter {env.name}. Their groups have{" "}
            <Link href={`/console/${env.key}/groups`} className="text-brand-700 underline">
              their own page
            </Link>
            .
          </>
        }
      >
        <div className="flex gap-2">
        {can(actor, "users", "write", [env.id]) && (
          <Link href={`/console/${env.key}/users/import`} className="rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium hover:bg-slate-50">
            Import CSV
          </Link>
        )}
        {can(actor, "users", "write", [env.id]) && (
          <AddUserDialog
            defaultOpen={addNow}
            currentEnvironmentId={env.id}
            environments={environments.map((e) => ({ id: e.id, name: e.name }))}
          />
        )}
        </div>
      </PageHeader>
      <UsersCard
          list={list}
          problem={problem}
          resetHref={`/console/${env.key}/users`}
          environment={{ id: env.id, key: env.key, name: env.name }}
          environments={environments.map((e) => ({ id: e.id, key: e.key, name: e.name }))}
          // An environment admin changes users from their environment's page (the server refuses the rest, row by row).
          canWrite={can(actor, "users", "write", [env.id])}
          writableEnvironmentIds={environments.filter((e) => can(actor, "environment_access", "write", [e.id])).map((e) => e.id)}
          filterGroup={filterGroup}
        />
    </>
  );
}
