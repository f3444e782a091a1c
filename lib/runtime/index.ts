// @iam-console/runtime: what a platform component imports to verify the access tokens the console
// issues and to decide from them. It depends on `jose` only (no database, no framework), so it
// can be published as its own package.
//
//   const verify = createVerifier({ issuer: "https://iam.example", jwks: "https://iam.example/.well-known/jwks.json" });
//   const result = await verify(bearer, { audience: "agent_studio", environment: "prod" });
//   if (result.ok) decide(result.claims, "agent_studio", genieId); // { allow, reason, message }

export { ACCESS_TOKEN_TYPE, ALL, type AccessTokenClaims } from "./claims";
export { checkRemote, decide, type OfflineDecision, type RemoteDecision } from "./decide";
export { FEATURE_KEYS, REASONS, type FeatureKey, type Reason } from "./reasons";
export { ALGORITHMS, createVerifier, type Verify, type VerifyResult } from "./verify";

/** Reads `Authorization: Bearer <token>` (null when absent or another scheme). */
export function bearerToken(authorization: string | null | undefined): string | null {
  const match = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(authorization ?? "");
  return match ? match[1]! : null;
}
