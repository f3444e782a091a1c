// A real OpenID provider for tests: panva's oidc-provider (a certified implementation) on loopback,
// with accounts whose claims a test sets (email, email_verified, name, groups). Sign-in is either
// the provider's own login form (a browser types the account) or automatic for one account
// (`autoLogin`, for tests without a browser). `tamper` changes the next ID tokens the token
// endpoint answers and signs them again with the provider's own key: a wrong nonce, a wrong
// issuer, an expired token, as a broken or hostile IdP would send them.
import { generateKeyPairSync } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SignJWT, decodeJwt, importJWK, type JWK } from "jose";
import Provider from "oidc-provider";

export type OidcAccount = { email: string; email_verified?: boolean; xms_edov?: boolean; name?: string; groups?: string[] };
export type Tamper = (claims: Record<string, unknown>) => Record<string, unknown>;

export type OidcIdp = {
  issuer: string;
  clientId: string;
  clientSecret: string;
  accounts: Map<string, OidcAccount>;
  /** Signs the browser in as this account without the login form (null: the form). */
  autoLogin: string | null;
  /** Changes the ID tokens the token endpoint answers, re-signed with the provider's key (null: none). */
  tamper: Tamper | null;
  /** Signs the ID tokens with a stranger's key under the IdP's key id (a forgery). */
  forge: boolean;
  close(): Promise<void>;
};

export async function startOidcIdp(options: { redirectUri: string; clientId?: string; clientSecret?: string; tokenAuthMethod?: "client_secret_basic" | "client_secret_post" }): Promise<OidcIdp> {
  const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...(privateKey.export({ format: "jwk" }) as JWK), kid: "test-key", alg: "RS256", use: "sig" };
  const clientId = options.clientId ?? "iam-console";
  const clientSecret = options.clientSecret ?? "test-client-secret-0123456789";
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const state: OidcIdp = {
    issuer,
    clientId,
    clientSecret,
    accounts: new Map(),
    autoLogin: null,
    tamper: null,
    forge: false,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId,
        client_secret: clientSecret,
        redirect_uris: [options.redirectUri],
        grant_types: ["authorization_code"],
        response_types: ["code"],
        // As registered: the IdP refuses the other method (as Okta and Auth0 do).
        token_endpoint_auth_method: options.tokenAuthMethod ?? "client_secret_basic",
      },
    ],
    jwks: { keys: [jwk] },
    // xms_edov: Microsoft Entra ID's proof of the email's domain (an optional claim it sends instead of email_verified).
    claims: { openid: ["sub"], email: ["email", "email_verified", "xms_edov"], profile: ["name"], groups: ["groups"] },
    pkce: { required: () => true },
    cookies: { keys: ["oidc-test-idp-cookie-key"] },
    features: { devInteractions: { enabled: true } },
    // A first-party IdP app: the grant is given without a consent screen.
    loadExistingGrant: async (ctx) => {
      const grant = new ctx.oidc.provider.Grant({ clientId: ctx.oidc.client!.clientId, accountId: ctx.oidc.session!.accountId! });
      grant.addOIDCScope("openid email profile groups");
      await grant.save();
      return grant;
    },
    findAccount: async (_ctx, id) => {
      const account = state.accounts.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ sub: id, ...account }) };
    },
    ttl: { Session: 60, Interaction: 600, AccessToken: 300, AuthorizationCode: 60, IdToken: 300, Grant: 600 },
  });

  const signingKey = await importJWK(jwk, "RS256");
  const strangerKey = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
  const registeredMethod = options.tokenAuthMethod ?? "client_secret_basic";
  provider.use(async (ctx, next) => {
    // oidc-provider takes either secret method from any client; Okta and Auth0 hold a client to the
    // method it is registered with, and so does this IdP.
    if (ctx.method === "POST" && ctx.path === "/token") {
      const basic = /^basic /i.test(ctx.headers.authorization ?? "");
      if (basic !== (registeredMethod === "client_secret_basic")) {
        ctx.status = 401;
        ctx.body = { error: "invalid_client", error_description: `this client authenticates with ${registeredMethod}` };
        return;
      }
    }
    // Automatic sign-in: the login interaction finishes for the chosen account at once.
    if (state.autoLogin && ctx.method === "GET" && /^\/interaction\/[^/]+$/.test(ctx.path)) {
      const details = await provider.interactionDetails(ctx.req, ctx.res);
      if (details.prompt.name === "login") {
        await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: state.autoLogin } }, { mergeWithLastSubmission: false });
        ctx.respond = false;
        return;
      }
    }
    await next();
    const body = ctx.body as { id_token?: string } | undefined;
    if ((state.tamper || state.forge) && ctx.path === "/token" && body && typeof body === "object" && body.id_token) {
      const decoded = decodeJwt(body.id_token) as Record<string, unknown>;
      const claims = state.tamper ? state.tamper(decoded) : decoded;
      const token = await new SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "test-key", typ: "JWT" }).sign(state.forge ? strangerKey : signingKey);
      ctx.body = { ...body, id_token: token };
    }
  });
  server.on("request", provider.callback());
  return state;
}
