import { redirect } from "next/navigation";
import { readFlash } from "@/lib/end-user/flash";
import { Button } from "@/components/ui/button";
import { connectedApps } from "@/lib/oauth/consents";
import { currentEndUserSession } from "../session";
import { revokeConnectedAppAction } from "./actions";

export const metadata = { title: "Connected apps" };
export const dynamic = "force-dynamic";

// The apps (MCP clients) this user allowed to use an MCP server as them, each disconnectable: its
// tokens stop at once.
export default async function ConnectedAppsPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<{ revoked?: string; error?: string }> }) {
  const { env: envKey } = await params;
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in?return_to=${encodeURIComponent(`/e/${envKey}/apps`)}`);
  const apps = await connectedApps(current.environment.id, current.user.id);
  const { revoked, error: sealed } = await searchParams;
  const error = readFlash(sealed);
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="apps-title">
      <h1 id="apps-title" className="text-xl font-semibold">
        Connected apps
      </h1>
      {revoked && (
        <p role="status" className="mt-3 text-sm text-slate-700">
          Disconnected: the app can no longer use the server as you.
        </p>
      )}
      {error && (
        <p role="alert" className="mt-3 text-sm text-red-800">
          {error}
        </p>
      )}
      {apps.length === 0 ? (
        <p className="mt-3 text-sm text-slate-600">No app is connected to your account here.</p>
      ) : (
        <ul className="mt-3 flex flex-col gap-2" data-testid="connected-apps">
          {apps.map((app) => (
            <li key={app.id} className="flex items-center justify-between gap-3 rounded-md border border-slate-200 p-3">
              <div>
                <p className="font-medium">{app.clientName}</p>
                <p className="text-sm text-slate-600">
                  uses {app.server.name} · since {app.createdAt.toISOString().slice(0, 10)}
                </p>
              </div>
              <form action={revokeConnectedAppAction.bind(null, envKey, app.id)}>
                <Button type="submit" variant="secondary" aria-label={`Disconnect ${app.clientName} from ${app.server.name}`}>
                  Disconnect
                </Button>
              </form>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
