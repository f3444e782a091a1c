import Link from "next/link";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { environmentSummaries } from "@/lib/environments";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { oidcRedirectUri } from "@/lib/sso/oidc";
import { AddIdpForm } from "./add-idp-form";
import { SpDetails } from "./sp-details";
import { counted } from "@/lib/domain/words";

export const metadata = { title: "Identity providers" };

export default async function IdentityProvidersPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const [idps, summaries] = await Promise.all([listIdentityProviders(), environmentSummaries()]);
  const canWrite = can(actor, "identity_providers", "write");
  const rows = idps.map((idp) => ({
    idp,
    environments: summaries.filter((s) => s.ssoEnabled && (s.identityProviderName === idp.name || s.additionalIdentityProviderIds.includes(idp.id))).map((s) => s.key.toUpperCase()),
    warning: idp.certificateWarning,
    latest: idp.certificateExpiresAt,
  }));
  return (
    <>
      <PageHeader
        title="Identity providers"
        description="SAML 2.0 and OpenID Connect identity providers, shared by every environment that signs in with them. Each environment chooses its IdP under Settings → Authentication."
      />
      <div className="flex flex-col gap-6">
        <Card>
          <h2 className="mb-3 text-base font-semibold">Connected identity providers</h2>
          <SimpleTable
            caption="Identity providers"
            rows={rows}
            rowKey={(r) => r.idp.id}
            empty="No identity provider yet."
            columns={[
              { header: "Name", cell: (r) => <Link className="text-brand-700 hover:underline" href={`/console/${env.key}/identity-providers/${r.idp.id}`}>{r.idp.name}</Link> },
              {
                header: "Protocol and ID",
                cell: (r) => (
                  <div className="flex flex-col gap-1">
                    <span>{r.idp.protocol === "oidc" ? <Badge tone="blue">OpenID Connect</Badge> : <Badge tone="slate">SAML 2.0</Badge>}</span>
                    <code className="break-all text-xs">{r.idp.protocol === "oidc" ? r.idp.oidcIssuer : r.idp.entityId}</code>
                  </div>
                ),
              },
              { header: "Used by", cell: (r) => r.environments.join(", ") || "—" },
              {
                header: "Signing certificate",
                cell: (r) =>
                  r.idp.protocol === "oidc" ? (
                    <span className="text-slate-600">the IdP&apos;s published keys (JWKS)</span>
                  ) : (
                  <a className="flex flex-wrap gap-1 hover:underline" href={`/console/${env.key}/identity-providers/${r.idp.id}#certificates`}>
                    {r.warning ? (
                      <Badge tone={r.warning.level === "expired" || r.warning.level === 7 ? "red" : "amber"}>
                        {r.warning.level === "expired" ? "expired" : `expires in ${counted(r.warning.days, "day")}`}
                      </Badge>
                    ) : (
                      <span className="text-slate-600">valid until {r.latest?.slice(0, 10)}</span>
                    )}
                    {r.idp.pendingCertificates > 0 && <Badge tone="amber">{r.idp.pendingCertificates} awaiting approval</Badge>}
                  </a>
                  ),
              },
              { header: "IdP-initiated", cell: (r) => (r.idp.protocol === "oidc" ? "—" : r.idp.allowIdpInitiated ? "allowed" : "off") },
            ]}
          />
        </Card>
        <Card>
          <h2 className="mb-3 text-base font-semibold">What to enter in your IdP</h2>
          <SpDetails oidc />
        </Card>
        {canWrite && (
          <Card>
            <h2 className="mb-3 text-base font-semibold">Add an identity provider</h2>
            <AddIdpForm envKey={env.key} redirectUri={oidcRedirectUri()} />
          </Card>
        )}
      </div>
    </>
  );
}
