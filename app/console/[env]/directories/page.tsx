import { Card, PageHeader } from "@/components/ui/card";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { directoryHealth, listDirectories } from "@/lib/directories";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { Directories } from "./directories";

export const metadata = { title: "Directories" };

export default async function DirectoriesPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const [rows, idps, health] = await Promise.all([listDirectories(env.id), listIdentityProviders(), directoryHealth(env.id)]);
  return (
    <>
      <PageHeader
        title="Directories"
        description={`SCIM 2.0 endpoints through which an identity provider pushes users and groups into ${env.name}. Each has its own base URL and bearer token.`}
      />
      <Card>
        <Directories
          environmentId={env.id}
          envKey={env.key}
          canWrite={can(actor, "directories", "write", [env.id])}
          identityProviders={idps.map((i) => ({ id: i.id, name: i.name }))}
          rows={rows.map((d) => ({
            id: d.id,
            name: d.name,
            baseUrl: d.baseUrl,
            tokenHint: d.tokenHint,
            status: d.status,
            identityProvider: d.identityProviderName ?? "—",
            lastRequestAt: d.lastRequestAt ? d.lastRequestAt.toISOString().slice(0, 16).replace("T", " ") : "never",
            health: health.get(d.id) ?? { users: 0, groups: 0, requests24h: 0, errors24h: 0, lastError: null },
          }))}
        />
        <p className="mt-4 text-sm text-slate-500">
          SCIM 2.0 (RFC 7643/7644): Users and Groups with the full filter grammar, PATCH as Okta, Entra ID and OneLogin send it, ETags (If-Match) and the
          enterprise extension. Deprovisioning a user revokes this environment and this directory&apos;s memberships; memberships made by hand are never removed by a sync.
        </p>
      </Card>
    </>
  );
}
