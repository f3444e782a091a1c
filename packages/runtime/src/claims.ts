import { FEATURE_KEYS, type FeatureKey } from "./reasons.ts";

/**
 * The access token's payload (RFC 9068 `at+jwt`, header `kid` and `typ`).
 *
 * `entitlements` maps a feature to what the user may use in it: `["*"]` for the whole feature,
 * else the ids of the granted resources. When the token would grow past its size budget, the
 * issuer leaves `entitlements` (and if need be `groups`) out and sets `entitlements_overflow`
 * (`groups_overflow`): a component then asks the decision endpoint.
 */
export type AccessTokenClaims = {
  iss: string;
  /** `<env>:<feature>` (e.g. `prod:agent_studio`), or an MCP server's URL: see `tokenAudience`. */
  aud: string;
  sub: string;
  email: string;
  name: string;
  env: string;
  groups?: string[];
  groups_overflow?: true;
  entitlements?: Partial<Record<FeatureKey, string[]>>;
  entitlements_overflow?: true;
  iat: number;
  exp: number;
  jti: string;
  sid: string;
};

export const ALL = "*";
export const ACCESS_TOKEN_TYPE = "at+jwt";

/** An environment key: what `env` carries and what a verifier is bound to. */
export const ENVIRONMENT_KEY = /^[a-z][a-z0-9-]{0,31}$/;

/**
 * The `aud` of a token for `audience` in `environment`: a feature key is bound to its environment
 * (`prod:agent_studio`, a URI whose scheme is the environment key), so a verifier checking only
 * `aud`, as any standard JWT library does, refuses another environment's token; an MCP server's URL
 * (RFC 8707 resource indicator) names one server, which lives in one environment, and is kept as is.
 */
export function tokenAudience(environment: string, audience: string): string {
  return (FEATURE_KEYS as readonly string[]).includes(audience) ? `${environment}:${audience}` : audience;
}
