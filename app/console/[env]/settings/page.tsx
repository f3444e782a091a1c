import Link from "next/link";
import { Card, PageHeader } from "@/components/ui/card";
import { SimpleTable } from "@/components/ui/simple-table";
import { listApiTokens } from "@/lib/api-tokens";
import { listEnvironments } from "@/lib/environments";
import { listGroups } from "@/lib/groups";
import { consolePage } from "@/lib/doors/http/console-page";
import { listOutbox } from "@/lib/mail";
import { can } from "@/lib/permissions";
import { getEnvironmentAuth } from "@/lib/sso/environment-auth";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { listSigningKeys } from "@/lib/tokens/keys";
import { env as config } from "@/env";
import { issuerMetadata } from "@/lib/tokens/discovery";
import { ApiTokens } from "./api-tokens";
import { SigningKeys } from "./signing-keys";
import { Webhooks } from "./webhooks";
import { listDeadDeliveries, listWebhooks } from "@/lib/webhooks";
import { EnvironmentAuthForm } from "./auth-form";
import { BrandingForm } from "./branding-form";
import { brandingOf } from "@/lib/branding";
import { publicOrigin } from "@/env";
import { firstOwnLink, messageParts } from "@/lib/mail/links";

export const metadata = { title: "Settings" };

/** A message with its links to this console clickable (lib/mail/links.ts: no other link is). */
const linkified = (body: string) =>
  messageParts(body, publicOrigin()).map((part, i) =>
    part.link ? (
      <a key={i} href={part.text} className="break-all text-brand-700 underline">
        {part.text}
      </a>
    ) : (
      part.text
    ),
  );

export default async function SettingsPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor } = await consolePage(params);
  const canReadOutbox = can(actor, "users", "write", "any");
  const [tokens, environments, idps, outbox, keys, webhooks, dead] = await Promise.all([
    listApiTokens(),
    listEnvironments(),
    listIdentityProviders(),
    canReadOutbox ? listOutbox(actor, 50) : [],
    listSigningKeys(),
    listWebhooks(),
    listDeadDeliveries(50),
  ]);
  const issuer = issuerMetadata();
  const day = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : "—");
  const [auth, groups, branding] = await Promise.all([getEnvironmentAuth(env.id), listGroups(env.id), brandingOf(env.id)]);
  const envKey = new Map(environments.map((e) => [e.id, e.key]));
  return (
    <>
      <PageHeader title="Settings" description={`How ${env.name}'s users sign in, the mail outbox and API tokens for the admin REST API.`} />
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Console members</h2>
        <p className="text-sm text-slate-600">
          Who may use this console (owners, admins, environment admins, reviewers), their last sign-in, second factors and sessions; invitations.{" "}
          <Link className="text-brand-700 underline" href={`/console/${env.key}/settings/members`}>
            Members
          </Link>
        </p>
      </Card>
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Authentication for {env.name}</h2>
        <p className="mb-4 text-sm text-slate-600">
          Users enter their email first; these settings decide whether they go to single sign-on or type a password. Sign-in page:{" "}
          <a className="text-brand-700 underline" href={`/e/${env.key}/sign-in`}>
            /e/{env.key}/sign-in
          </a>
        </p>
        <EnvironmentAuthForm
          canWrite={can(actor, "environment_auth", "write", [env.id])}
          identityProviders={idps.map((i) => ({ id: i.id, name: i.name }))}
          groups={groups.filter((g) => g.source !== "system").map((g) => ({ id: g.id, name: g.name }))}
          values={{
            environmentId: env.id,
            environmentName: env.name,
            version: auth.version,
            passwordEnabled: auth.passwordEnabled,
            ssoEnabled: auth.ssoEnabled,
            identityProviderId: auth.identityProviderId,
            enforcement: auth.enforcement,
            enforcedDomains: auth.enforcedDomains,
            breakGlassEmails: auth.breakGlassUsers.map((u) => u.email),
            jitEnabled: auth.jitEnabled,
            jitGroupIds: auth.jitGroups.map((g) => g.id),
            groupSyncEnabled: auth.groupSyncEnabled,
            groupAttribute: auth.groupAttribute,
            sessionLifetimeMinutes: auth.sessionLifetimeMinutes,
            idleTimeoutMinutes: auth.idleTimeoutMinutes,
            tokenLifetimeSeconds: auth.tokenLifetimeSeconds,
            secondFactor: auth.secondFactor,
            oauthDynamicRegistration: auth.oauthDynamicRegistration,
            oauthClientMetadataDocuments: auth.oauthClientMetadataDocuments,
            additionalIdentityProviders: auth.additionalIdentityProviders.map((a) => ({ identityProviderId: a.id, domains: a.domains })),
          }}
        />
      </Card>
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Branding of {env.name}&apos;s end-user pages</h2>
        <p className="mb-3 text-sm text-slate-600">The sign-in page, the home, the consent screen for apps and the mails end users get.</p>
        <BrandingForm
          environmentId={env.id}
          environmentName={env.name}
          canWrite={can(actor, "environment_auth", "write", [env.id])}
          values={{
            displayName: branding.displayName,
            primaryColor: branding.primaryColor,
            backgroundColor: branding.backgroundColor,
            message: branding.message,
            supportUrl: branding.supportUrl,
            logoUrl: branding.logo ? `/e/${env.key}/branding/logo?v=${branding.logo.version}` : null,
          }}
        />
      </Card>
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Mail outbox</h2>
        <p className="mb-3 text-sm text-slate-600">
          Invitations, password resets and unlock links. Without SMTP_URL mail is kept here instead of being sent, so the demo works without a mail server.
        </p>
        {!canReadOutbox ? (
          <p className="text-sm text-slate-500">Only members who may change users see the outbox: its links set passwords.</p>
        ) : (
        <SimpleTable
          caption="Mail outbox"
          rows={outbox}
          rowKey={(m) => m.id}
          empty="No mail yet."
          columns={[
            { header: "Time", cell: (m) => m.createdAt.toISOString().slice(0, 16).replace("T", " ") },
            { header: "To", cell: (m) => m.to },
            { header: "Subject", cell: (m) => m.subject },
            {
              header: "Message",
              cell: (m) => {
                const link = m.transport === "smtp" ? null : firstOwnLink(m.body, publicOrigin());
                return (
                  <>
                    {link && (
                      <a href={link} className="mr-3 text-brand-700 underline" data-testid="outbox-link">
                        Open the link
                      </a>
                    )}
                    <details className="inline-block">
                      <summary className="cursor-pointer text-brand-700">{m.transport === "smtp" ? (m.error ? `failed: ${m.error}` : "sent by SMTP") : "Show the message"}</summary>
                      <pre data-testid="outbox-body" className="whitespace-pre-wrap text-xs">
                        {linkified(m.body)}
                      </pre>
                    </details>
                  </>
                );
              },
            },
          ]}
        />
        )}
      </Card>
      <Card className="mb-6">
        <h2 className="mb-1 text-base font-semibold">Runtime token signing keys</h2>
        <p className="mb-3 text-sm text-slate-600">
          Access tokens for platform features are signed with the active key. The next key is published ahead; a retired key stays in the{" "}
          <a className="text-brand-700 underline" href="/.well-known/jwks.json">
            JWKS
          </a>{" "}
          until its last token expires. Keys also rotate on their own every {config().KEY_ROTATION_DAYS} days (KEY_ROTATION_DAYS). Issuer <code className="rounded bg-slate-100 px-1">{issuer.issuer}</code>,{" "}
          <a className="text-brand-700 underline" href="/.well-known/openid-configuration">
            metadata
          </a>
          .
        </p>
        <SigningKeys
          canWrite={can(actor, "signing_keys", "write")}
          keys={keys.map((k) => ({ kid: k.kid, algorithm: k.algorithm, state: k.state, createdAt: day(k.createdAt), activatedAt: day(k.activatedAt), retiredAt: day(k.retiredAt), publishUntil: day(k.publishUntil), published: k.published }))}
        />
      </Card>
      <Card className="mb-6">
        <h2 className="text-base font-semibold">Audit webhooks</h2>
        <p className="mt-1 text-sm text-slate-600">
          Every audit event, once sealed into the hash chain, is posted to each matching webhook as JSON, signed per Standard Webhooks (webhook-id, webhook-timestamp,
          webhook-signature). A failing receiver is retried with backoff for about 11 hours; then the delivery is dead and listed here to send again.
        </p>
        <Webhooks
          canWrite={can(actor, "webhooks", "write")}
          webhooks={webhooks.map((w) => ({ id: w.id, name: w.name, url: w.url, actions: w.actions.length ? w.actions.join(" ") : "All", enabled: w.enabled, pending: w.pending, delivered: w.delivered, dead: w.dead }))}
          dead={dead.map((d) => ({ id: d.id, endpoint: d.endpoint, event: `${d.action ?? "(pruned)"} ${d.target ?? ""}`.trim(), attempts: d.attempts, lastError: d.lastError ?? "", createdAt: day(d.createdAt) }))}
        />
      </Card>
      <Card>
        <h2 className="text-base font-semibold">Admin REST API</h2>
        <p className="mt-1 text-sm text-slate-600">
          Base URL <code className="rounded bg-slate-100 px-1">/api/v1</code>; the{" "}
          <a className="text-brand-700 underline" href="/api/v1/openapi.json">
            OpenAPI 3.1 document
          </a>{" "}
          describes every endpoint. Send a token as <code className="rounded bg-slate-100 px-1">Authorization: Bearer …</code>; each token may
          make 600 requests a minute.
        </p>
        <ApiTokens
          canWrite={can(actor, "api_tokens", "write")}
          memberId={actor.type === "console_member" ? actor.id : null}
          environments={environments.map((e) => ({ id: e.id, name: e.name }))}
          tokens={tokens.map((t) => ({
            id: t.id,
            name: t.name,
            hint: t.tokenHint,
            scope: t.scope,
            createdBy: t.createdBy,
            environments: t.environmentIds ? t.environmentIds.map((id) => envKey.get(id) ?? "?").join(", ").toUpperCase() : "All",
            createdAt: t.createdAt.toISOString().slice(0, 10),
            lastUsedAt: t.lastUsedAt ? t.lastUsedAt.toISOString().slice(0, 16).replace("T", " ") : "Never",
            state: t.revokedAt ? "revoked" : t.expiresAt && t.expiresAt < new Date() ? "expired" : "active",
          }))}
        />
      </Card>
    </>
  );
}
