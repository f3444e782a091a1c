import "server-only";
import type Provider from "oidc-provider";
import type { KoaContextWithOIDC } from "oidc-provider";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import type { Actor } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";

// The authorization server's events, into the audit trail: client registrations, tokens issued
// (and refused), grants revoked (the revocation endpoint, or a refresh token used twice, which
// revokes its whole family). oidc-provider emits them while it answers; the door (lib/doors/oauth)
// waits for these writes before it answers in turn (settleOAuthAudit), so nothing outlives the request.

const pending = new Set<Promise<unknown>>();

/** Waits for the audit rows of the requests answered so far. */
export async function settleOAuthAudit(): Promise<void> {
  while (pending.size) await Promise.allSettled([...pending]);
}

function track(write: Promise<unknown>) {
  const p = write.catch((error) => console.error("[oauth] audit write failed", error)).finally(() => pending.delete(p));
  pending.add(p);
}

export function auditProvider(provider: Provider, environment: Environment) {
  const envRef = { id: environment.id, key: environment.key };
  const clientActor = (ctx: KoaContextWithOIDC): Actor => {
    const client = ctx.oidc?.client;
    return { type: "system", id: null, label: client ? `OAuth client ${String(client.clientName ?? client.clientId)}` : "OAuth client (unidentified)" };
  };
  const ip = (ctx: KoaContextWithOIDC) => ctx.get?.("x-forwarded-for")?.split(",")[0]?.trim() || undefined;
  const write = (ctx: KoaContextWithOIDC, actor: Actor, entry: Parameters<typeof recordAudit>[2]) => track(recordAudit(getDb(), { actor, ip: ip(ctx) }, { environment: envRef, ...entry }));

  provider.on("registration_create.success", (ctx, client) =>
    write(ctx, { type: "system", id: null, label: "OAuth dynamic client registration" }, {
      action: "oauth.client_register",
      targetType: "oauth_client",
      targetId: null,
      targetLabel: `${String(client.clientName ?? "unnamed")} (${client.clientId})`,
      after: { clientId: client.clientId, clientName: client.clientName ?? null, redirectUris: client.redirectUris ?? [] },
    }),
  );
  provider.on("grant.success", (ctx) => {
    const token = ctx.oidc.entities.AccessToken as { accountId?: string; aud?: string | string[]; jti?: string } | undefined;
    const grantType = String(ctx.oidc.params?.grant_type ?? "");
    write(ctx, token?.accountId ? { type: "end_user", id: token.accountId, label: token.accountId, environmentIds: [environment.id] } : clientActor(ctx), {
      action: "oauth.token_issue",
      targetType: "oauth_client",
      targetId: null,
      targetLabel: String(ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? ""),
      after: { grantType, clientId: ctx.oidc.client?.clientId ?? null, audience: token?.aud ?? null, refreshable: !!ctx.oidc.entities.RefreshToken },
    });
  });
  // A refused token request of an identified client (anonymous garbage is not worth a row each).
  provider.on("grant.error", (ctx, error) =>
    ctx.oidc?.client &&
    write(ctx, clientActor(ctx), {
      action: "oauth.token_issue",
      targetType: "oauth_client",
      targetId: null,
      targetLabel: String(ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId ?? ""),
      outcome: "failure",
      // The library's detail (why a grant is invalid) is kept for the trail, not told the client.
      reason: `${error.error ?? "error"}: ${error.error_description ?? error.message ?? ""}${(error as { error_detail?: string }).error_detail ? ` (${(error as { error_detail?: string }).error_detail})` : ""}`.slice(0, 500),
      after: { grantType: String(ctx.oidc?.params?.grant_type ?? "") },
    }),
  );
  provider.on("grant.revoked", (ctx, grantId) =>
    write(ctx, clientActor(ctx), {
      action: "oauth.grant_revoke",
      targetType: "oauth_client",
      targetId: null,
      targetLabel: String(ctx.oidc?.client?.clientName ?? ctx.oidc?.client?.clientId ?? ""),
      after: { grantId, via: ctx.oidc?.route ?? null },
    }),
  );
}
