import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { ACCESS_TOKEN_TYPE, type AccessTokenClaims } from "./claims";
import { REASONS, type Reason } from "./reasons";

// Verifying an access token against the issuer's JWKS. Algorithms are pinned (EdDSA, ES256); the
// key comes only from the issuer's key set by `kid`, never from the token's header; `iss`, `aud`,
// `typ` and `exp` (with a small skew) are checked, and optionally the environment.

export const ALGORITHMS = ["EdDSA", "ES256"] as const;
const REQUIRED: (keyof AccessTokenClaims)[] = ["sub", "env", "iat", "exp", "jti", "sid"];

export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: Reason; message: string };

export type VerifierOptions = {
  issuer: string;
  /** The issuer's JWKS URL (fetched and cached; refetched on an unknown kid), or a key-set getter. */
  jwks: string | URL | (() => Promise<JSONWebKeySet>);
  clockToleranceSeconds?: number;
  /** How long a fetched JWKS is reused (remote key sets only). */
  cacheMaxAgeMs?: number;
};

export type VerifyOptions = { audience: string | string[]; environment?: string };

const fail = (reason: Reason, detail?: string): VerifyResult => ({ ok: false, reason, message: detail ? `${REASONS[reason]} ${detail}` : REASONS[reason] });

function keyResolver(jwks: VerifierOptions["jwks"], cacheMaxAge: number): JWTVerifyGetKey {
  if (typeof jwks !== "function") return createRemoteJWKSet(new URL(jwks), { cacheMaxAge, cooldownDuration: 1_000 });
  // A local getter (the issuer's own process): the resolver is rebuilt when it returns a new set.
  let last: { set: JSONWebKeySet; resolve: JWTVerifyGetKey } | undefined;
  return async (header, token) => {
    const set = await jwks();
    if (!last || last.set !== set) last = { set, resolve: createLocalJWKSet(set) };
    return last.resolve(header, token);
  };
}

function reasonOf(error: unknown): VerifyResult {
  if (error instanceof errors.JWTExpired) return fail("expired");
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "iss") return fail("wrong_issuer");
    if (error.claim === "aud") return fail("wrong_audience");
    if (error.claim === "typ") return fail("wrong_type");
    if (error.claim === "nbf" || error.claim === "iat") return fail("not_yet_valid");
    return fail("missing_claim", `(${error.claim})`);
  }
  if (error instanceof errors.JOSEAlgNotAllowed) return fail("algorithm_not_allowed");
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return fail("unknown_key");
  if (error instanceof errors.JWSSignatureVerificationFailed) return fail("bad_signature");
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return fail("malformed_token");
  throw error;
}

/** A verifier bound to one issuer and key set; reuse it (it caches the JWKS). */
export function createVerifier(options: VerifierOptions) {
  const getKey = keyResolver(options.jwks, options.cacheMaxAgeMs ?? 5 * 60_000);
  const clockTolerance = options.clockToleranceSeconds ?? 30;

  return async function verify(token: string | null | undefined, expected: VerifyOptions): Promise<VerifyResult> {
    if (!token) return fail("missing_token");
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return fail("malformed_token");
    }
    if (!ALGORITHMS.includes(header.alg as (typeof ALGORITHMS)[number])) return fail("algorithm_not_allowed", `(${String(header.alg)})`);
    if ("jku" in header || "jwk" in header || "x5u" in header || "x5c" in header) return fail("forbidden_header");
    if (typeof header.kid !== "string") return fail("unknown_key", "(no kid)");
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: options.issuer,
        audience: expected.audience,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: [...ALGORITHMS],
        clockTolerance,
        requiredClaims: REQUIRED,
      });
      const claims = payload as unknown as AccessTokenClaims;
      if (expected.environment !== undefined && claims.env !== expected.environment) return fail("wrong_environment", `(${claims.env}, not ${expected.environment})`);
      return { ok: true, claims };
    } catch (error) {
      return reasonOf(error);
    }
  };
}

export type Verify = ReturnType<typeof createVerifier>;
