import Link from "next/link";
import { notFound } from "next/navigation";
import type { SearchParams } from "nuqs/server";
import { Badge, PageHeader } from "@/components/ui/card";
import { listEnvironments } from "@/lib/environments";
import { findGroup } from "@/lib/groups";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { listUsersForPage } from "@/lib/users/list";
import { loadUsersTableState } from "@/lib/users/list-params";
import { UsersCard } from "../../users/users-table";
import { AddMembers } from "./add-members";

export const metadata = { title: "Group" };

export default async function GroupPage({ params, searchParams }: { params: Promise<{ env: string; groupId: string }>; searchParams: Promise<SearchParams> }) {
  const { env, actor, params: { groupId } } = await consolePage(params);
  const group = await findGroup(env.id, groupId);
  if (!group) notFound();
  const state = await loadUsersTableState(searchParams);
  const canWrite = can(actor, "memberships", "write", [env.id]) && group.source !== "system";
  const { list, problem } = await listUsersForPage({ ...state, scope: "env", group: group.id, environmentId: env.id });
  const environments = await listEnvironments();

  return (
    <>
      <Link href={`/console/${env.key}/users`} className="text-sm text-brand-700 hover:underline">
        ← Users & groups
      </Link>
      <PageHeader title={group.name} description={group.description || `A group of ${env.name}.`}>
        <div className="flex items-center gap-2">
          <Badge>{group.source}</Badge>
          <span className="text-sm text-slate-600">{group.memberCount.toLocaleString("en")} members</span>
        </div>
      </PageHeader>
      {canWrite && <AddMembers environmentId={env.id} group={{ id: group.id, name: group.name }} />}
      {group.source === "system" && (
        <p className="mb-4 text-sm text-slate-600">Everyone holds exactly the users who may enter {env.name}: grant or revoke the environment to change it.</p>
      )}
      <UsersCard
        list={list}
        problem={problem}
        resetHref={`/console/${env.key}/groups/${group.id}`}
        environment={{ id: env.id, key: env.key, name: env.name }}
        environments={environments.map((e) => ({ id: e.id, key: e.key, name: e.name }))}
        canWrite={canWrite}
        filterGroup={null}
        fixedGroup={{ id: group.id, name: group.name }}
      />
    </>
  );
}
