import "server-only";
import * as client from "openid-client";
import type { IdentityProvider } from "@/db/schema";
import { env, publicOrigin } from "@/env";
import { openSecret, sealSecret } from "@/lib/crypto/sealed";
import { ValidationError } from "@/lib/errors";
import { privateHostReason, requestOnce } from "@/lib/net/outbound";
import { metadataUrlProblem } from "./metadata";
import { SamlCheckError, type OidcCheck } from "./saml-response";

// OpenID Connect identity providers, through panva's openid-client (a certified relying party):
// discovery, the authorization URL with PKCE (S256), state and nonce, and the code exchange whose
// ID token is verified (signature against the IdP's JWKS, issuer, audience, expiry, nonce) before
// any claim is read. The sign-in itself (user, access, groups, session, trace, audit) is the same
// as a SAML one (lib/sso/flow.ts, lib/sso/provision.ts).

export const OIDC_CALLBACK_PATH = "/api/sso/oidc/callback";
export const oidcRedirectUri = () => `${publicOrigin()}${OIDC_CALLBACK_PATH}`;
const OIDC_STATE_PREFIX = "oidc_";
/** Whether a callback's `state` has the shape of one we issue (a prefix and 43 base64url characters): anything else names no sign-in of ours. */
export const isOidcState = (state: string | null | undefined): state is string => !!state && /^oidc_[A-Za-z0-9_-]{20,100}$/.test(state);

const SECRET_PURPOSE = "oidc-client-secret";
const VERIFIER_PURPOSE = "oidc-code-verifier";
const MAX_ANSWER_BYTES = 1024 * 1024;

export const sealClientSecret = (secret: string) => sealSecret(SECRET_PURPOSE, secret);
export const openClientSecret = (sealed: string) => openSecret(SECRET_PURPOSE, sealed, "The IdP's client secret");
export const sealCodeVerifier = (verifier: string) => sealSecret(VERIFIER_PURPOSE, verifier);
export const openCodeVerifier = (sealed: string) => openSecret(VERIFIER_PURPOSE, sealed, "The sign-in's PKCE verifier");

/** The issuer as stored: a discovery URL given in full loses its well-known suffix; no trailing slash on a bare origin. */
export function normalizeIssuer(raw: string): string {
  const trimmed = raw.trim().replace(/\/\.well-known\/openid-configuration\/?$/, "");
  return trimmed.replace(/\/+$/, "");
}

/** Why an issuer URL cannot be used (the metadata URLs' rule: https, plain http from loopback only when allowed). */
export function issuerProblem(issuer: string): string | null {
  return metadataUrlProblem(issuer, "issuer URL", "the discovery document and the IdP's signing keys");
}

/**
 * openid-client's requests, through our outbound client: private and loopback addresses refused
 * unless ALLOW_PRIVATE_METADATA_URLS (server-side request forgery), a 10-second deadline and a
 * size cap, no redirects followed.
 */
const outboundFetch: client.CustomFetch = async (url, options) => {
  const publicOnly = !env().ALLOW_PRIVATE_METADATA_URLS;
  if (publicOnly) {
    const reason = await privateHostReason(new URL(url).hostname, "ALLOW_PRIVATE_METADATA_URLS");
    if (reason) throw new Error(reason);
  }
  const headers: Record<string, string> = {};
  new Headers(options.headers as HeadersInit).forEach((value, name) => (headers[name] = value));
  const answer = await requestOnce(url, {
    method: options.method === "POST" ? "POST" : "GET",
    headers,
    body: typeof options.body === "string" ? options.body : options.body ? String(options.body) : undefined,
    timeoutMs: 10_000,
    publicOnly,
    maxBytes: MAX_ANSWER_BYTES,
  });
  const responseHeaders = new Headers();
  for (const [name, value] of Object.entries(answer.headers ?? {})) {
    if (value !== undefined) responseHeaders.set(name, Array.isArray(value) ? value.join(", ") : value);
  }
  return new Response(answer.status === 204 || answer.status === 304 ? null : answer.body, { status: answer.status, headers: responseHeaders });
};

type OidcIdp = Pick<IdentityProvider, "id" | "version" | "oidcIssuer" | "oidcClientId" | "oidcClientSecret" | "oidcTokenAuthMethod">;
export type TokenAuthMethod = IdentityProvider["oidcTokenAuthMethod"];

const CONFIG_TTL_MS = 60 * 60 * 1000;
const configurations = new Map<string, { at: number; config: Promise<client.Configuration> }>();

/** Discovery for an issuer and client (openid-client checks the document's issuer is the one asked for). */
export async function discover(issuer: string, clientId: string, clientSecret: string | null, method: TokenAuthMethod = "client_secret_basic"): Promise<client.Configuration> {
  const url = new URL(issuer);
  const authentication = !clientSecret ? client.None() : method === "client_secret_post" ? client.ClientSecretPost(clientSecret) : client.ClientSecretBasic(clientSecret);
  const config = await client.discovery(url, clientId, clientSecret ?? undefined, authentication, {
    [client.customFetch]: outboundFetch,
    execute: [
      // The ID token's signature is verified against the IdP's JWKS too (not only TLS to its token endpoint).
      client.enableNonRepudiationChecks,
      ...(url.protocol === "http:" ? [client.allowInsecureRequests] : []),
    ],
    timeout: 10,
  });
  return config;
}

/** The IdP's openid-client configuration, discovered once per IdP version and hour on this instance. */
export function oidcConfiguration(idp: OidcIdp): Promise<client.Configuration> {
  const key = `${idp.id}:${idp.version}`;
  const cached = configurations.get(key);
  if (cached && Date.now() - cached.at < CONFIG_TTL_MS) return cached.config;
  const secret = idp.oidcClientSecret ? openSecret(SECRET_PURPOSE, idp.oidcClientSecret, "The IdP's client secret") : null;
  const config = discover(idp.oidcIssuer!, idp.oidcClientId!, secret, idp.oidcTokenAuthMethod);
  configurations.set(key, { at: Date.now(), config });
  config.catch(() => configurations.delete(key));
  return config;
}

/** Checks at connection time that the issuer answers discovery for this client; the refusal names the field. */
export async function checkDiscovery(issuer: string, clientId: string, clientSecret: string | null, method?: TokenAuthMethod): Promise<void> {
  try {
    await discover(issuer, clientId, clientSecret, method);
  } catch (e) {
    throw ValidationError.field("oidcIssuer", `Discovery at ${issuer}/.well-known/openid-configuration failed: ${describeError(e)}`);
  }
}

export type OidcRequest = { state: string; nonce: string; codeVerifier: string };

export function newOidcRequest(): OidcRequest {
  return { state: `${OIDC_STATE_PREFIX}${client.randomState()}`, nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier() };
}

/** The IdP's authorization URL for one sign-in: code flow, PKCE S256, state and nonce. */
export async function oidcAuthorizationUrl(idp: OidcIdp & Pick<IdentityProvider, "oidcScopes">, request: OidcRequest, loginHint?: string): Promise<string> {
  let config: client.Configuration;
  try {
    config = await oidcConfiguration(idp);
  } catch (e) {
    throw new ValidationError(`The identity provider's discovery document could not be read: ${describeError(e)}`);
  }
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: oidcRedirectUri(),
    scope: idp.oidcScopes,
    response_type: "code",
    state: request.state,
    nonce: request.nonce,
    code_challenge: await client.calculatePKCECodeChallenge(request.codeVerifier),
    code_challenge_method: "S256",
    ...(loginHint ? { login_hint: loginHint } : {}),
  });
  return url.href;
}

export type OidcEvidence = { issuer: string; subject: string; claims: Record<string, unknown>; authnContext: string | null };

/**
 * The callback: openid-client checks state, exchanges the code with the PKCE verifier and verifies
 * the ID token (signature, iss, aud, azp, exp, iat, nonce); the UserInfo answer, when the IdP has
 * one, adds claims (its sub must be the ID token's). Every refusal is a SamlCheckError-shaped
 * check with the library's reason.
 */
export async function oidcCallback(idp: OidcIdp, callbackUrl: URL, request: OidcRequest): Promise<OidcEvidence> {
  let config: client.Configuration;
  try {
    config = await oidcConfiguration(idp);
  } catch (e) {
    throw new SamlCheckError("discovery", `The identity provider's discovery document could not be read: ${describeError(e)}`);
  }
  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(config, callbackUrl, {
      pkceCodeVerifier: request.codeVerifier,
      expectedState: request.state,
      expectedNonce: request.nonce,
      idTokenExpected: true,
    }, { redirect_uri: oidcRedirectUri() });
  } catch (e) {
    throw new SamlCheckError(checkOf(e), describeError(e));
  }
  const idToken = tokens.claims()!;
  let claims: Record<string, unknown> = { ...idToken };
  if (config.serverMetadata().userinfo_endpoint && tokens.access_token) {
    try {
      const info = await client.fetchUserInfo(config, tokens.access_token, idToken.sub);
      claims = { ...info, ...idToken };
      // A proof vouches for the email it came with: when the ID token carries another email than
      // UserInfo's, only the ID token's own email_verified (or xms_edov) speaks for it.
      const sameEmail = (a: unknown, b: unknown) => typeof a === "string" && typeof b === "string" && a.trim().toLowerCase() === b.trim().toLowerCase();
      if ("email" in idToken && !sameEmail(idToken.email, info.email)) {
        for (const proof of ["email_verified", "xms_edov"]) if (!(proof in idToken)) delete claims[proof];
      }
    } catch (e) {
      throw new SamlCheckError("userinfo", `The IdP's UserInfo answer was refused: ${describeError(e)}`);
    }
  }
  return { issuer: idToken.iss, subject: idToken.sub, claims, authnContext: typeof idToken.acr === "string" ? idToken.acr : null };
}

function checkOf(e: unknown): OidcCheck {
  if (e instanceof client.AuthorizationResponseError) return "idp_error";
  if (e instanceof client.ResponseBodyError) return "token";
  // openid-client wraps oauth4webapi's error (its code, and the claim it compared, in its cause).
  let inner = e as { code?: string; message?: string; cause?: unknown };
  while (inner.cause instanceof Error) inner = inner.cause as typeof inner;
  const claim = (inner.cause as { claim?: string } | undefined)?.claim;
  const message = inner.message ?? "";
  if (inner.code === "OAUTH_JWT_CLAIM_COMPARISON_FAILED" || inner.code === "OAUTH_JWT_TIMESTAMP_CHECK_FAILED") {
    if (claim === "nonce") return "nonce";
    if (claim === "iss") return "issuer";
    if (claim === "aud" || claim === "azp") return "audience";
    if (claim === "exp") return "expired";
    if (claim) return "time";
  }
  if (/"nonce"/.test(message)) return "nonce";
  if (/"iss"/.test(message)) return "issuer";
  if (/"aud"|"azp"/.test(message)) return "audience";
  if (/"exp"/.test(message)) return "expired";
  if (/"state"/.test(message)) return "state";
  if (/signature|verification key/.test(message) || inner.code === "OAUTH_KEY_SELECTION_FAILED") return "signature";
  return "id_token";
}

/** The library's reason, with the IdP's own error and description when it sent one. */
export function describeError(e: unknown): string {
  if (e instanceof client.AuthorizationResponseError || e instanceof client.ResponseBodyError) {
    return `the IdP answered ${e.error}${e.error_description ? ` (${e.error_description})` : ""}`;
  }
  const error = e as { message?: string; cause?: unknown };
  const cause = error.cause instanceof Error && error.cause.message !== error.message ? `: ${error.cause.message}` : "";
  return `${error.message ?? String(e)}${cause}`;
}

/**
 * Claims as attributes (name → values), the shape the attribute mapping reads: nested claims by
 * their path ("realm_access.roles"), arrays as several values, scalars as strings.
 */
export function claimAttributes(claims: Record<string, unknown>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const walk = (value: unknown, path: string, depth: number) => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value)) {
      const scalars = value.filter((v) => ["string", "number", "boolean"].includes(typeof v)).map(String);
      if (scalars.length) out[path] = scalars.slice(0, 1000);
      return;
    }
    if (typeof value === "object") {
      if (depth >= 4) return;
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, path ? `${path}.${k}` : k, depth + 1);
      return;
    }
    out[path] = [String(value)];
  };
  walk(claims, "", 0);
  return out;
}

const asserted = (value: unknown) => value === true || value === "true" || value === 1 || value === "1";

/**
 * The refusal when the email a sign-in would use is not one the IdP says is verified: its
 * `email_verified` claim, or, where an IdP does not send that claim, Microsoft Entra ID's
 * `xms_edov` (the tenant has verified that it owns the email's domain; Entra sends no
 * email_verified, and its plain `email` claim proves nothing, the "nOAuth" takeover).
 */
export function unverifiedEmailReason(claims: Record<string, unknown>, email: string): string | null {
  // Both vouch for the `email` claim only: an email the attribute mapping reads from another claim
  // (preferred_username, upn: often a value the IdP's user may choose) is not what they vouch for.
  const vouched = typeof claims.email === "string" ? claims.email.trim().toLowerCase() : null;
  if (vouched !== email.trim().toLowerCase()) {
    return `The IdP vouches (email_verified, xms_edov) only for its email claim (${vouched ?? "not sent"}), not for ${email}, which the attribute mapping reads from another claim: an unverified email cannot sign anyone in or be linked to an account. Map the email to the "email" claim.`;
  }
  if (asserted(claims.email_verified)) return null;
  if (claims.email_verified === undefined && asserted(claims.xms_edov)) return null;
  const said =
    claims.email_verified !== undefined
      ? `says it is not verified (email_verified is ${JSON.stringify(claims.email_verified)})`
      : claims.xms_edov !== undefined
        ? `does not say that its domain is verified (xms_edov is ${JSON.stringify(claims.xms_edov)})`
        : "does not say whether it is verified (no email_verified claim, nor Entra ID's xms_edov)";
  return `The IdP ${said} for ${email}: an unverified email cannot sign anyone in or be linked to an account.`;
}
