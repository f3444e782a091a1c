import Link from "next/link";
import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { isDomainError } from "@/lib/errors";
import { listGroups } from "@/lib/groups";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { listTraces } from "@/lib/sso/flow";
import { LINKABLE_CHECKS } from "@/lib/sso/identities";
import { certificateViews, getIdentityProvider, isLastApprovedCertificate, listGroupMappings } from "@/lib/sso/identity-providers";
import { SpDetails } from "../sp-details";
import { LinkIdentityButton } from "./link-identity-button";
import { CertificateActions } from "./certificate-actions";
import { DeleteIdpButton, GroupMappingsForm, IdpSettingsForm, OidcClientForm, RefreshMetadataForm, TracePreview } from "./idp-forms";
import { counted } from "@/lib/domain/words";

export const metadata = { title: "Identity provider" };

const time = (d: Date | string) => new Date(d).toISOString().slice(0, 19).replace("T", " ");

export default async function IdentityProviderPage({ params }: { params: Promise<{ env: string; idpId: string }> }) {
  const { env, actor, params: { idpId } } = await consolePage(params);
  const idp = await getIdentityProvider(idpId).catch((e) => {
    if (isDomainError(e)) notFound();
    throw e;
  });
  const canWrite = can(actor, "identity_providers", "write");
  const [mappings, groups, traces] = await Promise.all([listGroupMappings(idp.id, env.id), listGroups(env.id), listTraces(idp.id, 50)]);
  const certificates = certificateViews(idp);
  const pending = certificates.filter((c) => c.status === "pending");

  return (
    <>
      <Link href={`/console/${env.key}/identity-providers`} className="text-sm text-brand-700 hover:underline">
        ← Identity providers
      </Link>
      <PageHeader title={idp.name} description={(idp.protocol === "oidc" ? `OpenID Connect · ${idp.oidcIssuer}` : idp.entityId) ?? ""}>
        {canWrite && <DeleteIdpButton idpId={idp.id} envKey={env.key} name={idp.name} />}
      </PageHeader>
      <div className="flex flex-col gap-6">
        {idp.protocol === "oidc" && (
          <Card>
            <h2 className="mb-3 text-base font-semibold">OpenID Connect</h2>
            <dl className="grid grid-cols-1 gap-2 text-sm md:grid-cols-[max-content_1fr] md:gap-x-6">
              <dt className="text-slate-500">Issuer</dt>
              <dd data-testid="idp-issuer"><code className="break-all">{idp.oidcIssuer}</code></dd>
              <dt className="text-slate-500">Discovery</dt>
              <dd><code className="break-all">{idp.oidcIssuer}/.well-known/openid-configuration</code></dd>
              <dt className="text-slate-500">Client secret</dt>
              <dd>{idp.oidcClientSecret ? "kept sealed (never shown)" : "none (a public client)"}</dd>
              <dt className="text-slate-500">Checks</dt>
              <dd>Authorization code with PKCE (S256), state and nonce; the ID token&apos;s signature (the IdP&apos;s published keys), issuer, audience and expiry; email_verified (or Entra ID&apos;s xms_edov).</dd>
            </dl>
            <OidcClientForm idpId={idp.id} version={idp.version} clientId={idp.oidcClientId ?? ""} scopes={idp.oidcScopes} tokenAuthMethod={idp.oidcTokenAuthMethod} canWrite={canWrite} />
          </Card>
        )}
        {idp.protocol === "saml" && (
        <Card>
          <h2 className="mb-3 text-base font-semibold">Metadata</h2>
          <dl className="grid grid-cols-1 gap-2 text-sm md:grid-cols-[max-content_1fr] md:gap-x-6">
            <dt className="text-slate-500">IdP entity ID</dt>
            <dd data-testid="idp-entity-id"><code className="break-all">{idp.entityId}</code></dd>
            <dt className="text-slate-500">SSO URL</dt>
            <dd><code className="break-all">{idp.ssoUrl}</code></dd>
            <dt className="text-slate-500">Metadata URL</dt>
            <dd>{idp.metadataUrl ? <code className="break-all">{idp.metadataUrl}</code> : "added from XML"}</dd>
            <dt className="text-slate-500">Last read</dt>
            <dd>{idp.metadataRefreshedAt ? `${time(idp.metadataRefreshedAt)} UTC` : "never"}{idp.metadataUrl ? " (refreshed daily)" : ""}</dd>
          </dl>
          {idp.metadataError && (
            <p role="alert" className="mt-2 text-sm text-red-700">
              The last refresh failed: {idp.metadataError}
            </p>
          )}
          <section id="certificates" aria-labelledby="certificates-heading" className="scroll-mt-6">
            <h3 id="certificates-heading" className="mb-2 mt-4 text-sm font-semibold">
              Signing certificates
            </h3>
            <p className="mb-2 text-sm text-slate-600">
              Only approved certificates verify sign-ins. One that appears when the metadata is read again stays pending until an administrator approves it
              {idp.autoTrustRollover ? " (this IdP trusts new certificates from its metadata URL automatically)" : ""}.
            </p>
            {pending.length > 0 && (
              <p role="status" className="mb-2 rounded-md border border-amber-300 bg-amber-50 p-2 text-sm text-amber-900" data-testid="pending-certificates">
                {pending.length === 1 ? "A new certificate awaits" : `${pending.length} new certificates await`} your approval: sign-ins it signs are refused until then. Compare its fingerprint
                with the one the IdP&apos;s administrator gives you (not from the metadata) before approving.
              </p>
            )}
            <SimpleTable
              caption="Signing certificates"
              rows={certificates}
              rowKey={(c) => c.fingerprint}
              columns={[
                {
                  header: "Certificate",
                  cell: (c) => (
                    <div className="flex flex-col gap-1">
                      <code className="break-all text-xs" title="SHA-256 fingerprint">SHA-256 {c.fingerprint}</code>
                      <span className="text-xs text-slate-600">{c.subject}</span>
                    </div>
                  ),
                },
                { header: "Valid", cell: (c) => `${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)}` },
                {
                  header: "Status",
                  cell: (c) => (
                    <div className="flex flex-wrap gap-1">
                      {c.status === "approved" ? <Badge tone="green">approved</Badge> : <Badge tone="amber">pending approval</Badge>}
                      {c.warning && (
                        <Badge tone={c.warning.level === "expired" || c.warning.level === 7 ? "red" : "amber"}>{c.warning.level === "expired" ? "expired" : `expires in ${counted(c.warning.days, "day")}`}</Badge>
                      )}
                    </div>
                  ),
                },
                {
                  header: "Read from",
                  cell: (c) => (
                    <div className="flex flex-col gap-1 text-xs">
                      {c.source ? <code className="break-all">{c.source}</code> : <span>metadata XML pasted in the console</span>}
                      <span className="text-slate-600">
                        first {c.addedAt.slice(0, 10)}, last {c.lastSeenAt.slice(0, 10)}
                        {c.inMetadata ? "" : " (no longer in the metadata)"}
                      </span>
                      {c.approvedBy && <span className="text-slate-600">approved by {c.approvedBy}{c.approvedAt ? ` on ${c.approvedAt.slice(0, 10)}` : ""}</span>}
                    </div>
                  ),
                },
                ...(canWrite
                  ? [{ header: "Actions", cell: (c: (typeof certificates)[number]) => <CertificateActions idpId={idp.id} idpName={idp.name} certificate={c} removable={!isLastApprovedCertificate(certificates, c)} /> }]
                  : []),
              ]}
            />
          </section>
          {canWrite && <RefreshMetadataForm idpId={idp.id} hasMetadataUrl={!!idp.metadataUrl} />}
        </Card>
        )}
        <Card>
          <h2 className="mb-3 text-base font-semibold">What to enter in the IdP</h2>
          <SpDetails saml={idp.protocol === "saml"} oidc={idp.protocol === "oidc"} />
        </Card>
        <Card>
          <h2 className="mb-3 text-base font-semibold">{idp.protocol === "oidc" ? "Claims and options" : "Attributes and options"}</h2>
          <IdpSettingsForm
            canWrite={canWrite}
            idp={{
              id: idp.id,
              name: idp.name,
              preset: idp.preset,
              version: idp.version,
              attributeMapping: idp.attributeMapping,
              allowIdpInitiated: idp.allowIdpInitiated,
              allowSha1: idp.allowSha1,
              createGroupsFromAssertion: idp.createGroupsFromAssertion,
              autoTrustRollover: idp.autoTrustRollover,
              hasMetadataUrl: !!idp.metadataUrl,
              protocol: idp.protocol,
            }}
          />
        </Card>
        <Card>
          <h2 className="mb-1 text-base font-semibold">Group mapping in {env.name}</h2>
          <p className="mb-3 text-sm text-slate-600">IdP group values (from the groups attribute) and the groups of {env.name} they stand for.</p>
          <GroupMappingsForm
            idpId={idp.id}
            environmentId={env.id}
            canWrite={can(actor, "environment_auth", "write", [env.id])}
            initial={mappings.map((m) => ({ idpValue: m.idpValue, groupId: m.groupId }))}
            groups={groups.filter((g) => g.source !== "system").map((g) => ({ id: g.id, name: g.name }))}
          />
        </Card>
        <Card>
          <h2 className="mb-3 text-base font-semibold">SSO traces</h2>
          {traces.length === 0 ? (
            <p className="text-sm text-slate-500">No sign-in attempt yet.</p>
          ) : (
            <ul className="flex flex-col divide-y divide-slate-100" data-testid="sso-traces">
              {traces.map((t) => (
                <li key={t.id} className="py-2 text-sm">
                  <details>
                    <summary className="cursor-pointer">
                      <span className="text-slate-500">{time(t.createdAt)}</span>{" "}
                      <Badge tone={t.outcome === "success" ? "green" : "red"}>{t.outcome}</Badge> {t.flow === "idp" ? "IdP-initiated" : "SP-initiated"} ·{" "}
                      {t.subject ?? "subject unknown"}
                      {t.failedCheck && (
                        <span className="text-red-800">
                          {" "}
                          · {t.failedCheck}: {t.reason}
                        </span>
                      )}
                    </summary>
                    <div className="mt-2 grid gap-2 pl-4 md:grid-cols-2">
                      <div>
                        <p className="font-medium">Attributes (signatures and secrets are never kept)</p>
                        <pre className="overflow-x-auto rounded bg-slate-50 p-2 text-xs">{JSON.stringify(t.attributes ?? {}, null, 2)}</pre>
                      </div>
                      <div>
                        <p className="font-medium">Groups asserted</p>
                        <p>{t.groups?.join(", ") || "none"}</p>
                        {t.result && (
                          <>
                            <p className="mt-2 font-medium">What sign-in did</p>
                            <pre className="overflow-x-auto rounded bg-slate-50 p-2 text-xs">{JSON.stringify(t.result, null, 2)}</pre>
                          </>
                        )}
                        {t.subject && <TracePreview traceId={t.id} environmentId={t.environmentId ?? env.id} />}
                        {t.subject && t.userEmail && (LINKABLE_CHECKS as readonly string[]).includes(t.failedCheck ?? "") && (
                          <div className="mt-2">
                            <LinkIdentityButton traceId={t.id} email={t.userEmail} />
                          </div>
                        )}
                      </div>
                    </div>
                  </details>
                </li>
              ))}
            </ul>
          )}
        </Card>
      </div>
    </>
  );
}
