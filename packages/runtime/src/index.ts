// @iam-console/runtime: what a platform component imports to verify the access tokens the console
// issues and to decide from them. It depends on `jose` only (no database, no framework), so it
// can be published as its own package.
//
//   const verify = createVerifier({ issuer: "https://iam.example", jwks: "https://iam.example/.well-known/jwks.json", environment: "prod" });
//   const result = await verify(bearer, { audience: "agent_studio" }); // the token's aud is prod:agent_studio
//   if (result.ok) decide(result.claims, "agent_studio", genieId); // { allow, reason, message }

export { ACCESS_TOKEN_TYPE, ALL, tokenAudience, type AccessTokenClaims } from "./claims.ts";
export { checkRemote, decide, type OfflineDecision, type RemoteDecision } from "./decide.ts";
export { FEATURE_KEYS, REASONS, type FeatureKey, type Reason } from "./reasons.ts";
export { ALGORITHMS, createVerifier, MAX_TOKEN_CHARS, type VerifierOptions, type Verify, type VerifyOptions, type VerifyResult } from "./verify.ts";

/**
 * Reads `Authorization: Bearer <token>` (null when absent or another scheme). The credential is
 * returned as sent, so a malformed one is refused by `verify` as `malformed_token`, not as missing.
 */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  return match ? match[1]! : null;
}
