import { redirect } from "next/navigation";
import { Button } from "@/components/ui/button";
import { getDb } from "@/db/client";
import { userGroupsIn } from "@/lib/sso/provision";
import { signOutAction } from "./actions";
import { currentEndUserSession } from "./session";

export const metadata = { title: "Home" };

export default async function EndUserHome({ params }: { params: Promise<{ env: string }> }) {
  const { env: envKey } = await params;
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in`);
  const { user, environment, session } = current;
  const groups = await userGroupsIn(getDb(), user.id, environment.id);
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="text-xl font-semibold">Welcome, {user.name}</h1>
      <dl className="mt-4 grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-sm">
        <dt className="text-slate-500">Email</dt>
        <dd data-testid="end-user-email">{user.email}</dd>
        <dt className="text-slate-500">Environment</dt>
        <dd>{environment.name}</dd>
        <dt className="text-slate-500">Signed in with</dt>
        <dd>{session.method === "sso" ? "single sign-on" : "password"}</dd>
        <dt className="text-slate-500">Groups here</dt>
        <dd>
          <ul data-testid="end-user-groups" className="flex flex-wrap gap-2">
            {groups.map((g) => (
              <li key={g.id} className="rounded bg-slate-100 px-2 py-0.5">
                {g.name}
              </li>
            ))}
          </ul>
        </dd>
      </dl>
      <form action={signOutAction.bind(null, envKey)} className="mt-6">
        <Button type="submit" variant="secondary">
          Sign out
        </Button>
      </form>
    </section>
  );
}
