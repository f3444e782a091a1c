import { CopyButton } from "@/components/ui/copy-button";
import { spEndpoints } from "@/lib/sso/endpoints";
import { oidcRedirectUri } from "@/lib/sso/oidc";

/** What the IdP's administrator copies into the IdP. */
export function SpDetails({ oidc = false, saml = true }: { oidc?: boolean; saml?: boolean }) {
  const sp = spEndpoints();
  const rows: [string, string][] = [
    ...(saml
      ? ([
          ["ACS URL (single sign-on URL)", sp.acsUrl],
          ["SP entity ID (audience)", sp.entityId],
          ["SP metadata URL", sp.metadataUrl],
        ] as [string, string][])
      : []),
    ...(oidc ? ([["Redirect URI (OpenID Connect, sign-in redirect URI)", oidcRedirectUri()]] as [string, string][]) : []),
  ];
  return (
    <div>
      <dl className="grid grid-cols-1 gap-2 text-sm md:grid-cols-[max-content_1fr] md:gap-x-6">
        {rows.map(([label, value]) => (
          <div key={label} className="contents">
            <dt className="text-slate-500">{label}</dt>
            <dd>
              <code className="break-all rounded bg-slate-100 px-1" data-testid={label.split(" ")[0]!.toLowerCase() + "-value"}>
                {value}
              </code>
              <CopyButton value={value} label={label.replace(/ \(.*\)$/, "")} />
            </dd>
          </div>
        ))}
      </dl>
      {saml && (
        <p className="mt-3 text-sm">
          <a className="text-brand-700 underline" href={`${sp.metadataUrl}?download=1`}>
            Download SP metadata (XML)
          </a>{" "}
          · The IdP must sign responses or assertions with SHA-256, send the email as NameID or an attribute, and post to the ACS URL.
        </p>
      )}
      {oidc && (
        <p className="mt-3 text-sm text-slate-600">
          OpenID Connect: register a confidential web client (authorization code flow with PKCE) with this redirect URI; the email must come with{" "}
          <code>email_verified</code> true (Microsoft Entra ID sends none: add its optional claim <code>xms_edov</code>, the tenant&apos;s proof that it owns the
          email&apos;s domain).
        </p>
      )}
    </div>
  );
}
