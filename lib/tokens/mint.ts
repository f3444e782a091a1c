import "server-only";
import { and, eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { getDb } from "@/db/client";
import { environmentAuth, resources } from "@/db/schema";
import { entitlementsOf } from "@/lib/access/policy";
import type { EndUserSession } from "@/lib/end-user/sessions";
import { publicOrigin } from "@/env";
import { ValidationError, ForbiddenError } from "@/lib/errors";
import { uuidSchema } from "@/lib/validation";
import { ACCESS_TOKEN_TYPE, FEATURE_KEYS, tokenAudience, type AccessTokenClaims, type FeatureKey } from "@iam-console/runtime";
import { noteIssuance } from "./issuance-audit";
import { activeSigningKey } from "./keys";

// Access tokens for a signed-in end user (RFC 9068 shape): see the README's "Runtime tokens" for
// every claim. `aud` is a feature key bound to the environment (`prod:agent_studio`), or an MCP
// server's URL (RFC 8707 resource indicator; the server lives in one environment).

/** Above this the token leaves out its entitlements (then its groups) and says so. */
export const MAX_TOKEN_BYTES = 4096;

export const issuer = () => publicOrigin();
export const jwksUrl = () => `${publicOrigin()}/.well-known/jwks.json`;
export const mcpServerUrl = (resourceId: string) => `${publicOrigin()}/mcp/${resourceId}`;
export const protectedResourceMetadataUrl = (resourceId: string) => `${publicOrigin()}/.well-known/oauth-protected-resource/mcp/${resourceId}`;

/**
 * Checks an audience: a feature key (bare, or bound to the session's environment as the token's
 * `aud` is: `prod:agent_studio`), or the URL of an MCP server of the session's environment.
 * Answers it as the caller names it in requests: the feature key, or the URL.
 */
export async function validateAudience(environment: { id: string; key: string }, audience: string): Promise<string> {
  if ((FEATURE_KEYS as readonly string[]).includes(audience)) return audience;
  const bound = FEATURE_KEYS.find((f) => tokenAudience(environment.key, f) === audience);
  if (bound) return bound;
  const environmentId = environment.id;
  const prefix = `${publicOrigin()}/mcp/`;
  const id = audience.startsWith(prefix) ? audience.slice(prefix.length) : "";
  if (uuidSchema.safeParse(id).success) {
    const [mcp] = await getDb().select({ id: resources.id }).from(resources).where(and(eq(resources.id, id), eq(resources.environmentId, environmentId), eq(resources.feature, "mcp")));
    if (mcp) return audience;
  }
  throw new ValidationError(`Unknown audience: use ${FEATURE_KEYS.join(", ")} or an MCP server URL of this environment.`, { audience: ["Unknown audience."] });
}

export type MintedToken = { token: string; claims: AccessTokenClaims; expiresIn: number };

export async function mintAccessToken(s: EndUserSession, audience: string): Promise<MintedToken> {
  // A session that must first add the second factor its environment requires carries no access.
  if (s.mustEnrol) throw new ForbiddenError("This environment requires a second factor: add one first (your home page in this environment).");
  const audienceName = await validateAudience(s.environment, audience);
  const aud = tokenAudience(s.environment.key, audienceName);
  const [[auth], held, key] = await Promise.all([
    getDb().select({ lifetime: environmentAuth.tokenLifetimeSeconds }).from(environmentAuth).where(eq(environmentAuth.environmentId, s.environment.id)),
    entitlementsOf(s.environment.id, s.user.id),
    activeSigningKey(),
  ]);
  const lifetime = auth?.lifetime ?? 600;
  const iat = Math.floor(Date.now() / 1000);
  const base = {
    iss: issuer(),
    aud,
    sub: s.user.id,
    email: s.user.email,
    name: s.user.name,
    env: s.environment.key,
    iat,
    exp: iat + lifetime,
    jti: crypto.randomUUID(),
    sid: s.session.id,
  };
  const sign = (claims: AccessTokenClaims) => new SignJWT({ ...claims }).setProtectedHeader({ alg: key.algorithm, typ: ACCESS_TOKEN_TYPE, kid: key.kid }).sign(key.key);
  let claims: AccessTokenClaims = { ...base, groups: held.groups, entitlements: held.entitlements as Partial<Record<FeatureKey, string[]>> };
  let token = await sign(claims);
  if (token.length > MAX_TOKEN_BYTES) {
    claims = { ...base, groups: held.groups, entitlements_overflow: true };
    token = await sign(claims);
  }
  if (token.length > MAX_TOKEN_BYTES) {
    claims = { ...base, groups_overflow: true, entitlements_overflow: true };
    token = await sign(claims);
  }
  noteIssuance({ environment: s.environment, user: s.user, audience: audienceName, kid: key.kid, jti: base.jti });
  return { token, claims, expiresIn: lifetime };
}
