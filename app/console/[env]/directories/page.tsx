import { notFound } from "next/navigation";
import { Card, PageHeader } from "@/components/ui/card";
import { actorFromSession, requireConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { can } from "@/lib/permissions";
import { listDirectories } from "@/lib/scim/directories";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { Directories } from "./directories";

export const metadata = { title: "Directories" };

export default async function DirectoriesPage({ params }: { params: Promise<{ env: string }> }) {
  const session = await requireConsoleSession();
  const { env: key } = await params;
  const env = await findEnvironmentByKey(key);
  if (!env) notFound();
  const [rows, idps] = await Promise.all([listDirectories(env.id), listIdentityProviders()]);
  return (
    <>
      <PageHeader
        title="Directories"
        description={`SCIM 2.0 endpoints through which an identity provider pushes users and groups into ${env.name}. Each has its own base URL and bearer token.`}
      />
      <Card>
        <Directories
          environmentId={env.id}
          canWrite={can(actorFromSession(session), "directories", "write", [env.id])}
          identityProviders={idps.map((i) => ({ id: i.id, name: i.name }))}
          rows={rows.map((d) => ({
            id: d.id,
            name: d.name,
            baseUrl: d.baseUrl,
            tokenHint: d.tokenHint,
            status: d.status,
            identityProvider: d.identityProviderName ?? "—",
            lastRequestAt: d.lastRequestAt ? d.lastRequestAt.toISOString().slice(0, 16).replace("T", " ") : "never",
          }))}
        />
        <p className="mt-4 text-sm text-slate-500">
          The SCIM protocol endpoints (users, groups, filters, PATCH), sync health and the request log are not available yet: a directory can be created and its
          token rotated or disabled, but the IdP cannot push to it yet.
        </p>
      </Card>
    </>
  );
}
