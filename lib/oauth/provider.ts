import "server-only";
import { createHash } from "node:crypto";
import { and, eq, isNull } from "drizzle-orm";
import Provider, { type Configuration, type KoaContextWithOIDC } from "oidc-provider";
import { getDb } from "@/db/client";
import { environmentAccess, environmentAuth, environments, oauthConsents, resources, users, type Environment } from "@/db/schema";
import { env, publicOrigin } from "@/env";
import { entitlementsOf } from "@/lib/access/policy";
import { issuer as tokenIssuer } from "@/lib/tokens/mint";
import { activeSigningKey } from "@/lib/tokens/keys";
import { adapterFor } from "./adapter";
import { auditProvider } from "./audit";
import { consentIsLive } from "./consent-state";
import { readEndUserSession, sessionCookieName } from "@/lib/end-user/sessions";

// One OAuth 2.1 authorization server per environment, for MCP clients (the MCP authorization
// specification): panva's oidc-provider (a certified implementation) with our storage
// (adapter.ts), our signing key, and our access tokens: `at+jwt` for one MCP server (RFC 8707: the
// `resource` is the token's audience), with the claims every other access token of ours carries
// (iss is the console, env, sid, groups, entitlements), so our components verify them the same way.
// Authorization code with PKCE (S256 only); dynamic client registration (RFC 7591) and Client ID
// Metadata Documents, each switchable per environment; refresh tokens that rotate; revocation.

export const OAUTH_SCOPE = "mcp";
/** The environment's authorization server: its issuer (RFC 8414 metadata at /.well-known/oauth-authorization-server/e/<key>). */
export const authorizationServerIssuer = (environmentKey: string) => `${publicOrigin()}/e/${environmentKey}`;
export const consentPath = (environmentKey: string, uid: string) => `/e/${environmentKey}/apps/consent/${uid}`;

const ROUTES = {
  authorization: "/oauth/authorize",
  token: "/oauth/token",
  registration: "/oauth/register",
  revocation: "/oauth/revoke",
  jwks: "/oauth/jwks",
  end_session: "/oauth/end-session",
  userinfo: "/oauth/userinfo",
  pushed_authorization_request: "/oauth/par",
  introspection: "/oauth/introspect",
  code_verification: "/oauth/device",
  device_authorization: "/oauth/device/auth",
  backchannel_authentication: "/oauth/backchannel",
  challenge: "/oauth/challenge",
} as const;

type Cached = { signature: string; provider: Provider };
const globalCache = globalThis as unknown as { __oauthProviders?: Map<string, Cached> };
const cache = (globalCache.__oauthProviders ??= new Map());

/** The key the environment's authorization server signs its cookies with (Koa's keygrip). */
export function oauthCookieKey(environmentId: string): string {
  return createHash("sha256").update(`oauth-cookies:${environmentId}:${env().NEXTAUTH_SECRET}`).digest("base64url");
}

/** The cookie that binds an interaction to the browser that started the authorization (set by the library). */
export const INTERACTION_COOKIE = "_interaction";

/** Loopback (any port) and https redirect URIs only. */
export function redirectUriProblem(uri: string): string | null {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `${uri} is not a URL.`;
  }
  if (url.hash) return `${uri} has a fragment.`;
  if (url.protocol === "https:") return null;
  if (url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname)) return null;
  return `${uri} is neither https nor a loopback address.`;
}

/** The MCP server of this environment a `resource` parameter names, or undefined. */
async function mcpResource(environment: Environment, resource: string) {
  const prefix = `${publicOrigin()}/mcp/`;
  if (!resource.startsWith(prefix)) return undefined;
  const id = resource.slice(prefix.length);
  if (!/^[0-9a-f-]{36}$/i.test(id)) return undefined;
  const [row] = await getDb()
    .select({ id: resources.id, name: resources.name })
    .from(resources)
    .where(and(eq(resources.id, id), eq(resources.environmentId, environment.id), eq(resources.feature, "mcp")));
  return row;
}

async function configuration(environment: Environment, settings: { registration: boolean; metadataDocuments: boolean; lifetime: number }, key: Awaited<ReturnType<typeof activeSigningKey>>): Promise<Configuration> {
  const jwk = { ...(key.key.export({ format: "jwk" }) as Record<string, string>), kid: key.kid, alg: key.algorithm, use: "sig" };
  const secret = oauthCookieKey(environment.id);
  const { errors } = await import("oidc-provider");
  return {
    adapter: adapterFor(environment.id),
    jwks: { keys: [jwk as never] },
    cookies: { keys: [secret], long: { signed: true }, short: { signed: true } },
    routes: ROUTES,
    // "mcp" is both what a client may register (RFC 7591 `scope`) and the MCP servers' resource scope.
    scopes: ["openid", "offline_access", OAUTH_SCOPE],
    // Only what an MCP client needs: no email or profile scopes to consent to (asked, they are invalid_scope).
    claims: { openid: ["sub"] },
    pkce: { required: () => true },
    clientDefaults: { grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none", id_token_signed_response_alg: key.algorithm },
    enabledJWA: { idTokenSigningAlgValues: [key.algorithm], requestObjectSigningAlgValues: [] },
    responseTypes: ["code"],
    clientAuthMethods: ["none"],
    ttl: {
      AccessToken: settings.lifetime,
      AuthorizationCode: 60,
      Grant: 90 * 24 * 3600,
      Interaction: 600,
      Session: 14 * 24 * 3600,
      IdToken: 600,
      RefreshToken: 30 * 24 * 3600,
    },
    // Outgoing requests (Client ID Metadata Documents): the library refuses private and loopback
    // addresses (its SSRF guard on the connection); an operator may allow them for clients whose
    // documents are served inside.
    fetch: (url: URL | string, options: RequestInit & { dispatcher?: unknown }) => {
      if (env().ALLOW_PRIVATE_CLIENT_METADATA_URLS) delete options.dispatcher;
      return fetch(url, options);
    },
    rotateRefreshToken: true,
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    conformIdTokenClaims: true,
    findAccount: async (_ctx, sub, token) => {
      // Active and allowed into this environment, or no account: a refresh for a suspended user,
      // or one who lost access, is refused; so is one whose consent was revoked or whose grant's
      // session ended (signed out everywhere).
      const [user] = await getDb()
        .select({ id: users.id, email: users.email, name: users.name })
        .from(users)
        .innerJoin(environmentAccess, and(eq(environmentAccess.userId, users.id), eq(environmentAccess.environmentId, environment.id)))
        .where(and(eq(users.id, sub), eq(users.status, "active")));
      if (!user) return undefined;
      const grantId = (token as { grantId?: string } | undefined)?.grantId;
      if (grantId && !(await consentIsLive(environment.id, grantId))) return undefined;
      return { accountId: user.id, claims: async () => ({ sub: user.id, email: user.email, name: user.name }) };
    },
    // A grant is reused without the consent page only while the browser is signed in to the
    // environment as the grant's account, fully (no second factor still to add): the authorization
    // server's own session outlives a sign-out (14 days), and a shared browser must not hand the
    // next person's app the last person's access, past the environment's sign-in rules. Otherwise
    // the consent page runs: the environment's sign-in first, then a remembered consent goes on.
    // Right after the consent page (an interaction's result, bound to this browser) its grant is used.
    loadExistingGrant: async (ctx) => {
      const answered = ctx.oidc.result?.consent?.grantId;
      if (answered) return ctx.oidc.provider.Grant.find(answered);
      const accountId = ctx.oidc.session?.accountId;
      const grantId = ctx.oidc.client ? ctx.oidc.session?.grantIdFor(ctx.oidc.client.clientId) : undefined;
      if (!accountId || !grantId) return undefined;
      const signedIn = await readEndUserSession(environment.key, ctx.cookies.get(sessionCookieName(environment.key)));
      if (!signedIn || signedIn.mustEnrol || signedIn.user.id !== accountId) return undefined;
      return ctx.oidc.provider.Grant.find(grantId);
    },
    interactions: { url: (_ctx, interaction) => consentPath(environment.key, interaction.uid) },
    features: {
      devInteractions: { enabled: false },
      revocation: { enabled: true },
      rpInitiatedLogout: { enabled: false },
      registration: {
        enabled: settings.registration,
        idFactory: () => crypto.randomUUID(),
      },
      clientIdMetadataDocument: { enabled: settings.metadataDocuments, ack: "draft-02" },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => undefined as unknown as string,
        useGrantedResource: () => true,
        getResourceServerInfo: async (_ctx, resource) => {
          const mcp = await mcpResource(environment, resource);
          if (!mcp) throw new errors.InvalidTarget(`${resource} is not an MCP server of ${environment.name}.`);
          return { scope: OAUTH_SCOPE, audience: resource, accessTokenTTL: settings.lifetime, accessTokenFormat: "jwt", jwt: { sign: { alg: key.algorithm as never, kid: key.kid } } };
        },
      },
    },
    // Redirect URIs: loopback (a local client, any port) and https only.
    extraClientMetadata: {
      properties: ["redirect_uris"],
      validator: (_ctx, key, value) => {
        if (key !== "redirect_uris") return;
        for (const uri of (value as string[] | undefined) ?? []) {
          const problem = redirectUriProblem(String(uri));
          if (problem) {
            const refusal = new errors.InvalidRedirectUri();
            refusal.error_description = `${problem} Redirect URIs must be https or loopback (127.0.0.1, [::1], localhost).`;
            throw refusal;
          }
        }
      },
    },
    // Our access tokens' claims: the console is the issuer (the JWKS our components already read).
    formats: {
      customizers: {
        jwt: async (_ctx, token, jwt) => {
          const accountId = (token as unknown as { accountId?: string }).accountId;
          const grantId = (token as unknown as { grantId?: string }).grantId;
          // The three reads at once (the entitlements usually from the decision cache).
          const [[consent], [user], held] = await Promise.all([
            grantId
              ? getDb().select({ sessionId: oauthConsents.sessionId }).from(oauthConsents).where(and(eq(oauthConsents.environmentId, environment.id), eq(oauthConsents.grantId, grantId), isNull(oauthConsents.revokedAt)))
              : Promise.resolve([]),
            accountId ? getDb().select({ email: users.email, name: users.name }).from(users).where(eq(users.id, accountId)) : Promise.resolve([]),
            accountId ? entitlementsOf(environment.id, accountId) : Promise.resolve({ groups: [] as string[], entitlements: {} }),
          ]);
          jwt.payload.iss = tokenIssuer();
          Object.assign(jwt.payload, { env: environment.key, email: user?.email, name: user?.name, sid: consent?.sessionId ?? "00000000-0000-0000-0000-000000000000", groups: held.groups, entitlements: held.entitlements });
        },
      },
    },
    renderError: async (ctx: KoaContextWithOIDC, out: { error?: string; error_description?: string }) => {
      ctx.type = "html";
      const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
      ctx.body = `<!doctype html><html lang="en"><head><title>Sign-in for an app failed</title></head><body><main><h1>Sign-in for an app failed</h1><p role="alert">${esc(out.error ?? "error")}: ${esc(out.error_description ?? "")}</p></main></body></html>`;
    },
  } as Configuration;
}

/**
 * The authorization server of an environment (built once, and again when its settings or the
 * active signing key change). Undefined for an unknown environment.
 */
export async function providerFor(environmentKey: string): Promise<{ provider: Provider; environment: Environment } | undefined> {
  const [row] = await getDb()
    .select({ environment: environments, registration: environmentAuth.oauthDynamicRegistration, metadataDocuments: environmentAuth.oauthClientMetadataDocuments, lifetime: environmentAuth.tokenLifetimeSeconds })
    .from(environments)
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, environments.id))
    .where(eq(environments.key, environmentKey));
  if (!row) return undefined;
  const key = await activeSigningKey();
  const settings = { registration: row.registration ?? true, metadataDocuments: row.metadataDocuments ?? true, lifetime: row.lifetime ?? 600 };
  const signature = JSON.stringify([key.kid, settings, publicOrigin(), row.environment.name]);
  const cached = cache.get(row.environment.id);
  if (cached?.signature === signature) return { provider: cached.provider, environment: row.environment };
  const provider = new Provider(authorizationServerIssuer(row.environment.key), await configuration(row.environment, settings, key));
  // Behind the lean server, which keeps X-Forwarded-* only from trusted proxies.
  provider.proxy = true;
  auditProvider(provider, row.environment);
  cache.set(row.environment.id, { signature, provider });
  return { provider, environment: row.environment };
}
