import "server-only";
import type { Feature, McpTool } from "@/db/enums";
import { decide, type Decision } from "@/lib/access/policy";
import { createVerifier, REASONS, tokenAudience, type Reason, type Verify, type VerifyResult } from "@iam-console/runtime";
import { CLOCK_SKEW_SECONDS, publishedJwks } from "./keys";
import { issuer } from "./mint";

// The issuer's own components (decision endpoint, genie endpoint, MCP servers) verify with the same
// library a remote component uses, reading the key set straight from the database (the JWKS
// endpoint serves the same set), and then ask the live policy.

let cachedSet: { at: number; set: Awaited<ReturnType<typeof publishedJwks>> } | undefined;
async function localJwks() {
  if (!cachedSet || Date.now() - cachedSet.at > 5_000) cachedSet = { at: Date.now(), set: await publishedJwks() };
  return cachedSet.set;
}

// One verifier per environment (each is bound to its environment), all reading the same key set.
let verifiers: { issuer: string; byEnvironment: Map<string, Verify> } | undefined;

// A component sends the same token many times in its lifetime: a verification that passed is kept
// for as long as the key set it was checked against is (5 s, like localJwks), and never past the
// token's own expiry, so a repeated token costs no signature check. Only successes are kept; what
// the token grants is decided live each time.
const VERIFIED_MS = 5_000;
const verified = new Map<string, { until: number; result: VerifyResult }>();

/** Verifies a token presented to a component of `environment` (required: a token of another environment is refused). */
export async function verifyAccessToken(token: string | null | undefined, expected: { audience: string | string[]; environment: string }): Promise<VerifyResult> {
  if (!verifiers || verifiers.issuer !== issuer()) {
    verifiers = { issuer: issuer(), byEnvironment: new Map() };
    verified.clear();
  }
  let verify = verifiers.byEnvironment.get(expected.environment);
  if (!verify) {
    // Throws on a missing or malformed environment key (a caller's bug, never a client's input).
    verify = createVerifier({ issuer: issuer(), jwks: localJwks, environment: expected.environment, clockToleranceSeconds: CLOCK_SKEW_SECONDS });
    verifiers.byEnvironment.set(expected.environment, verify);
  }
  const key = token ? `${token}\n${expected.environment}\n${JSON.stringify(expected.audience)}` : "";
  const now = Date.now();
  const hit = key ? verified.get(key) : undefined;
  if (hit && hit.until > now) return hit.result;
  if (hit) verified.delete(key);
  const result = await verify(token, { audience: expected.audience });
  if (result.ok && key) {
    if (verified.size >= 10_000) verified.delete(verified.keys().next().value!);
    verified.set(key, { until: Math.min(now + VERIFIED_MS, result.claims.exp * 1000), result });
  }
  return result;
}

/** Tests: forget the cached key set (after a rotation in the same process). */
export function resetVerifierCache(): void {
  cachedSet = undefined;
  verified.clear();
}

const refused = (resources: (string | null)[], reason: Reason, message: string = REASONS[reason]): Decision[] =>
  resources.map((resource) => ({ resource, allow: false, reason, message, grant: null, group: null, path: [] }));

/**
 * A token presented to a component of `environment`: verified, then each resource is decided from
 * the live policy, and the token's session must still be open (suspension, environment access, group
 * membership and grants as they are now; "sign out everywhere" through the user's watermark).
 */
export async function decideWithToken(
  token: string | null | undefined,
  request: {
    environment: { id: string; key: string };
    feature: Feature;
    resources: (string | null)[];
    audience: string | string[];
    /** A resource's own audience (an MCP server's URL): when given, each resource is decided only if the token names the feature or that resource (RFC 8707: a token for one server is not one for another asked beside it). */
    resourceAudience?: (resource: string) => string;
    tool?: McpTool;
    anyTool?: boolean;
  },
): Promise<{ claims: Extract<VerifyResult, { ok: true }>["claims"] | null; decisions: Decision[] }> {
  const resources = request.resources.length ? request.resources : [null];
  const verified = await verifyAccessToken(token, { audience: request.audience, environment: request.environment.key });
  if (!verified.ok) return { claims: null, decisions: refused(resources, verified.reason, verified.message) };
  const { claims } = verified;
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  const forFeature = audiences.includes(tokenAudience(request.environment.key, request.feature));
  const bound = (resource: string | null) => forFeature || !request.resourceAudience || resource === null || audiences.includes(tokenAudience(request.environment.key, request.resourceAudience(resource)));
  const decided = resources.filter(bound);
  // The live policy (suspended, no access… say more than "revoked"), the watermark and the token's session, in one statement.
  const live = decided.length
    ? await decide({ environment: request.environment, user: { id: claims.sub }, feature: request.feature, resources: decided, tokenIssuedAt: claims.iat, sessionId: claims.sid, tool: request.tool, anyTool: request.anyTool })
    : [];
  let next = 0;
  const decisions = resources.map((resource) => (bound(resource) ? live[next++]! : refused([resource], "wrong_audience")[0]!));
  return { claims, decisions };
}
