import { createLocalJWKSet, createRemoteJWKSet, customFetch, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from "jose";
import { ACCESS_TOKEN_TYPE, ENVIRONMENT_KEY, tokenAudience, type AccessTokenClaims } from "./claims.ts";
import { REASONS, type Reason } from "./reasons.ts";

// Verifying an access token against the issuer's JWKS. Algorithms are pinned (EdDSA, ES256); the
// key comes only from the issuer's key set by `kid`, never from the token's header; `iss`, `aud`,
// `typ`, `exp` (with a small skew) and the environment are checked. A verifier is bound to one
// environment when it is made, so no call can skip that check. Whatever the token or the key set
// holds, `verify` answers `{ ok: false, reason }`; it never throws.

export const ALGORITHMS = ["EdDSA", "ES256"] as const;
const REQUIRED: (keyof AccessTokenClaims)[] = ["aud", "sub", "env", "iat", "exp", "jti", "sid"];
/** Twice the largest token the issuer signs (4,096 bytes): anything larger is refused unread. */
export const MAX_TOKEN_CHARS = 8192;
/** Three base64url segments (the signature may be empty: `alg: none` is then refused by name). */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export type VerifyResult = { ok: true; claims: AccessTokenClaims } | { ok: false; reason: Reason; message: string };

export type VerifierOptions = {
  issuer: string;
  /** The issuer's JWKS URL (fetched and cached; refetched on an unknown kid), or a key-set getter. */
  jwks: string | URL | (() => Promise<JSONWebKeySet>);
  /**
   * The key of the environment this component serves (`prod`): required. A token of another
   * environment is refused with `wrong_environment`, whatever the call asks.
   */
  environment: string;
  clockToleranceSeconds?: number;
  /** How long a fetched JWKS is reused (remote key sets only). */
  cacheMaxAgeMs?: number;
};

/** A feature key (bound to the verifier's environment: `agent_studio` expects `prod:agent_studio`), or an MCP server's URL. */
export type VerifyOptions = { audience: string | string[] };

// A detail may quote the token (its alg, its crit): printable ASCII only, so a door can put the
// message in a header (WWW-Authenticate) as it is.
const fail = (reason: Reason, detail?: string): VerifyResult => ({
  ok: false,
  reason,
  message: detail ? `${REASONS[reason]} ${detail.replace(/[^\x20-\x7e]/g, "?").slice(0, 100)}` : REASONS[reason],
});

/** Why the key for a token could not be had: thrown by the key resolver, read by `reasonOf`. */
class KeyFailure extends Error {
  constructor(
    readonly reason: "unknown_key" | "bad_key" | "keys_unavailable",
    cause: unknown,
  ) {
    super(REASONS[reason], { cause });
  }
}

/** The key set could not be had at all (the fetch, or the getter, failed). */
class SourceFailure extends Error {
  constructor(cause: unknown) {
    super("The key set could not be read.", { cause });
  }
}

function keyFailure(error: unknown): KeyFailure {
  if (error instanceof KeyFailure) return error;
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) return new KeyFailure("unknown_key", error);
  // Not reachable, not 200, not JSON, not a key set: nothing to verify with (jose's own plain JOSEError
  // is only thrown for the HTTP answer).
  if (error instanceof SourceFailure || error instanceof errors.JWKSTimeout || (error instanceof errors.JOSEError && error.code === errors.JOSEError.code)) {
    return new KeyFailure("keys_unavailable", error);
  }
  if (error instanceof errors.JWKSInvalid && !/public keys/.test(error.message)) return new KeyFailure("keys_unavailable", error);
  // The matching key would not import: off the curve, wrong length, private, unsupported (WebCrypto's DataError…).
  return new KeyFailure("bad_key", error);
}

function keyResolver(jwks: VerifierOptions["jwks"], cacheMaxAge: number): JWTVerifyGetKey {
  if (typeof jwks !== "function") {
    const remote = createRemoteJWKSet(new URL(jwks), {
      cacheMaxAge,
      cooldownDuration: 1_000,
      // jose passes a timeout through as JWKSTimeout and re-throws anything else: tag it.
      [customFetch]: (url: string, init: RequestInit) => fetch(url, init).catch((error: unknown) => {
        throw (error as Error)?.name === "TimeoutError" ? error : new SourceFailure(error);
      }),
    });
    return async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        throw keyFailure(error);
      }
    };
  }
  // A local getter (the issuer's own process): the resolver is rebuilt when it returns a new set.
  let last: { set: JSONWebKeySet; resolve: JWTVerifyGetKey } | undefined;
  return async (header, token) => {
    let resolve: JWTVerifyGetKey;
    try {
      const set = await jwks();
      if (!last || last.set !== set) last = { set, resolve: createLocalJWKSet(set) };
      resolve = last.resolve;
    } catch (error) {
      throw new KeyFailure("keys_unavailable", error);
    }
    try {
      return await resolve(header, token);
    } catch (error) {
      throw keyFailure(error);
    }
  };
}

/** Every error the verification can raise, as a reason. */
function reasonOf(error: unknown): VerifyResult {
  if (error instanceof KeyFailure) return fail(error.reason);
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
  // An unrecognised `crit` extension (jose supports none we accept).
  if (error instanceof errors.JOSENotSupported) return fail("unsupported_header");
  if (error instanceof errors.JOSEError) return fail("malformed_token");
  // Not jose's: the key it resolved could not verify (WebCrypto refused it).
  return fail("bad_key");
}

const sameAudience = (aud: unknown, expected: readonly string[]) => (Array.isArray(aud) ? aud : [aud]).some((a) => typeof a === "string" && expected.includes(a));

/** A verifier bound to one issuer, key set and environment; reuse it (it caches the JWKS). */
export function createVerifier(options: VerifierOptions) {
  const environment = (options as Partial<VerifierOptions> | undefined)?.environment;
  if (typeof environment !== "string" || !ENVIRONMENT_KEY.test(environment)) {
    throw new TypeError('createVerifier: "environment" is required: the key of the environment this component serves, e.g. "prod".');
  }
  const getKey = keyResolver(options.jwks, options.cacheMaxAgeMs ?? 5 * 60_000);
  const clockTolerance = options.clockToleranceSeconds ?? 30;

  return async function verify(token: string | null | undefined, expected: VerifyOptions): Promise<VerifyResult> {
    if (!token) return fail("missing_token");
    if (token.length > MAX_TOKEN_CHARS) return fail("token_too_large");
    if (!COMPACT_JWS.test(token)) return fail("malformed_token", "(three base64url segments expected)");
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return fail("malformed_token", "(the header is not base64url JSON)");
    }
    if (!ALGORITHMS.includes(header.alg as (typeof ALGORITHMS)[number])) return fail("algorithm_not_allowed", `(${JSON.stringify(header.alg) ?? "none given"})`);
    if ("jku" in header || "jwk" in header || "x5u" in header || "x5c" in header) return fail("forbidden_header");
    if ("crit" in header) return fail("unsupported_header", `(crit: ${JSON.stringify(header.crit) ?? "?"})`);
    if (typeof header.kid !== "string") return fail("unknown_key", "(no kid)");
    const audiences = (Array.isArray(expected.audience) ? expected.audience : [expected.audience]).map((a) => tokenAudience(environment, a));
    try {
      const { payload } = await jwtVerify(token, getKey, {
        issuer: options.issuer,
        typ: ACCESS_TOKEN_TYPE,
        algorithms: [...ALGORITHMS],
        clockTolerance,
        requiredClaims: REQUIRED,
      });
      const claims = payload as unknown as AccessTokenClaims;
      // The environment first: a DEV token in PROD says so, rather than "another audience".
      if (claims.env !== environment) return fail("wrong_environment", `(${JSON.stringify(claims.env)}, not "${environment}")`);
      if (!sameAudience(claims.aud, audiences)) return fail("wrong_audience");
      return { ok: true, claims };
    } catch (error) {
      return reasonOf(error);
    }
  };
}

export type Verify = ReturnType<typeof createVerifier>;
