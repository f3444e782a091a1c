import { ALL, type AccessTokenClaims } from "./claims.ts";
import { REASONS, type FeatureKey, type Reason } from "./reasons.ts";

export type OfflineDecision = { allow: boolean; reason: Reason; message: string; feature: FeatureKey; resource: string | null };

/**
 * Decides from a verified token's entitlements alone: allowed when the token grants the whole
 * feature or the resource. A token whose entitlements overflowed answers `entitlements_overflow`:
 * ask the decision endpoint (see `checkRemote`).
 */
export function decide(claims: AccessTokenClaims, feature: FeatureKey, resource: string | null = null): OfflineDecision {
  const answer = (allow: boolean, reason: Reason): OfflineDecision => ({ allow, reason, message: REASONS[reason], feature, resource });
  if (claims.entitlements_overflow || !claims.entitlements) return answer(false, "entitlements_overflow");
  const granted = claims.entitlements[feature];
  if (!granted) return answer(false, "no_grant");
  if (granted.includes(ALL)) return answer(true, "granted");
  if (resource === null) return answer(false, "no_grant");
  return granted.includes(resource) ? answer(true, "granted") : answer(false, "no_grant");
}

export type RemoteDecision = {
  resource: string | null;
  allow: boolean;
  reason: Reason;
  message: string;
  grant: { id: string; feature: FeatureKey; resourceId: string | null } | null;
  group: { id: string; name: string } | null;
};

/** Asks the decision endpoint (`POST <issuer>/api/v1/authz/check`) with a component's API token. */
export async function checkRemote(
  endpoint: string,
  apiToken: string,
  request: { token?: string; subject?: string; environment: string; feature: FeatureKey; resources?: (string | null)[] },
  fetchImpl: typeof fetch = fetch,
): Promise<RemoteDecision[]> {
  const res = await fetchImpl(endpoint, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` },
    body: JSON.stringify(request),
  });
  const body = (await res.json()) as { decisions?: RemoteDecision[]; detail?: string; code?: string };
  // A token that fails verification answers 401 with its reason (`code`) and the denials beside it:
  // a denial for the caller, not an error (the caller's own API token failing has no decisions).
  if (res.status === 401 && body.decisions) return body.decisions;
  if (!res.ok || !body.decisions) throw new Error(`decision endpoint answered ${res.status}: ${body.detail ?? "no decisions"}`);
  return body.decisions;
}
