import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { requireConsoleSession, actorFromSession } from "@/lib/auth/session";
import { findEnvironmentByKey, listEnvironments } from "@/lib/environments";
import { listGroups } from "@/lib/groups";
import { listEnvironmentUsers } from "@/lib/users/queries";
import { can } from "@/lib/permissions";
import { CreateUserForm, GroupsPanel } from "./users-forms";

export const metadata = { title: "Users & groups" };

const STATUS_TONE = { active: "green", invited: "blue", suspended: "amber", deprovisioned: "red" } as const;

export default async function UsersPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<{ q?: string }> }) {
  const session = await requireConsoleSession();
  const { env: envKey } = await params;
  const { q } = await searchParams;
  const env = await findEnvironmentByKey(envKey);
  if (!env) notFound();
  const [users, groups, environments] = await Promise.all([
    listEnvironmentUsers(env.id, { q }),
    listGroups(env.id),
    listEnvironments(),
  ]);
  const actor = actorFromSession(session);
  const canWrite = can(actor, "users", "write", [env.id]);
  const canWriteGroups = can(actor, "groups", "write", [env.id]);

  return (
    <>
      <PageHeader
        title="Users & groups"
        description={`People who may enter ${env.name}, and the groups of ${env.name}. Bulk actions, import and the full table come next.`}
      />
      <div className="grid gap-6 xl:grid-cols-[1fr_22rem]">
        <Card className="p-0">
          <form className="flex items-center gap-2 border-b border-slate-200 p-4" role="search">
            <label htmlFor="q" className="sr-only">
              Search users
            </label>
            <input
              id="q"
              name="q"
              defaultValue={q}
              placeholder="Search name or email"
              className="w-72 rounded-md border border-slate-300 px-3 py-2 text-sm"
            />
            <button className="rounded-md border border-slate-300 px-3 py-2 text-sm">Search</button>
          </form>
          <table className="w-full text-left text-sm">
            <caption className="sr-only">Users with access to {env.name}</caption>
            <thead className="bg-slate-50 text-xs uppercase text-slate-500">
              <tr>
                <th scope="col" className="px-4 py-2">Name</th>
                <th scope="col" className="px-4 py-2">Email</th>
                <th scope="col" className="px-4 py-2">Status</th>
                <th scope="col" className="px-4 py-2">Environments</th>
                <th scope="col" className="px-4 py-2">Groups in {env.name}</th>
              </tr>
            </thead>
            <tbody>
              {users.map((u) => (
                <tr key={u.id} className="border-t border-slate-100">
                  <td className="px-4 py-2 font-medium">{u.name}</td>
                  <td className="px-4 py-2 text-slate-600">{u.email}</td>
                  <td className="px-4 py-2">
                    <Badge tone={STATUS_TONE[u.status]}>{u.status}</Badge>
                  </td>
                  <td className="px-4 py-2">
                    <div className="flex gap-1">
                      {u.environments.map((k) => (
                        <Badge key={k}>{k.toUpperCase()}</Badge>
                      ))}
                    </div>
                  </td>
                  <td className="px-4 py-2 text-slate-600">{u.groups.join(", ")}</td>
                </tr>
              ))}
              {users.length === 0 && (
                <tr>
                  <td colSpan={5} className="px-4 py-8 text-center text-slate-500">
                    {q ? `No user of ${env.name} matches “${q}”.` : `No user has access to ${env.name} yet.`}
                  </td>
                </tr>
              )}
            </tbody>
          </table>
        </Card>
        <div className="flex flex-col gap-6">
          {canWrite && (
            <CreateUserForm
              currentEnvironmentId={env.id}
              environments={environments.map((e) => ({ id: e.id, name: e.name }))}
              groups={groups.filter((g) => g.source !== "system").map((g) => ({ id: g.id, name: g.name }))}
            />
          )}
          <GroupsPanel environmentId={env.id} environmentName={env.name} groups={groups} canWrite={canWriteGroups} />
        </div>
      </div>
    </>
  );
}
