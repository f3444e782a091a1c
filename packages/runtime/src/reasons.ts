// The reasons a token is refused or an action is allowed or denied. The decision endpoint, the
// library and every component answer with these codes, each with one plain sentence.

export const REASONS = {
  granted: "A grant allows this.",
  // Token verification
  missing_token: "No access token was sent.",
  malformed_token: "The access token is not a well-formed JWT.",
  token_too_large: "The access token is larger than any the issuer signs (8 KiB).",
  algorithm_not_allowed: "The token's signing algorithm is not accepted (only EdDSA and ES256 are).",
  forbidden_header: "The token's header names its own key (jku, jwk, x5u or x5c); keys come only from the issuer's JWKS.",
  unsupported_header: "The token's header asks for an extension this verifier does not support (crit).",
  unknown_key: "The token was signed with a key the issuer does not publish (unknown or retired kid).",
  bad_key: "The issuer's key for this token cannot be used (a malformed or private key in the key set).",
  keys_unavailable: "The issuer's key set could not be fetched; try again shortly.",
  bad_signature: "The token's signature does not verify: it was altered or signed by someone else.",
  expired: "The token has expired.",
  not_yet_valid: "The token is not valid yet.",
  wrong_issuer: "The token was issued by someone else.",
  wrong_audience: "The token was issued for another audience.",
  wrong_type: "The token is not an access token (typ must be at+jwt).",
  missing_claim: "The token lacks a required claim.",
  wrong_environment: "The token belongs to another environment.",
  // Live state (decision endpoint)
  token_revoked: "The token was revoked: the user signed out everywhere or the session ended.",
  user_not_found: "No such user.",
  user_suspended: "The user is suspended or deprovisioned.",
  no_environment_access: "The user has no access to this environment.",
  resource_not_found: "No such resource in this environment and feature.",
  no_grant: "Neither the user nor any of their groups has a grant for this feature or resource.",
  // Offline decision
  entitlements_overflow: "The token carries too many entitlements to list; ask the decision endpoint.",
} as const;

export type Reason = keyof typeof REASONS;

export const FEATURE_KEYS = ["agent_studio", "workato_go", "mcp"] as const;
export type FeatureKey = (typeof FEATURE_KEYS)[number];
