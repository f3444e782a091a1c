import type { FeatureKey } from "./reasons";

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
