import "server-only";
import { jwksUrl, issuer } from "./mint";
import { ALGORITHMS } from "@iam-console/runtime";

/** Issuer metadata (OpenID discovery / RFC 8414 shape): who signs the tokens and where the keys are. */
export function issuerMetadata() {
  return {
    issuer: issuer(),
    jwks_uri: jwksUrl(),
    token_endpoint_auth_methods_supported: ["none"],
    id_token_signing_alg_values_supported: [...ALGORITHMS],
    access_token_signing_alg_values_supported: [...ALGORITHMS],
    decision_endpoint: `${issuer()}/api/v1/authz/check`,
    claims_supported: ["iss", "aud", "sub", "email", "name", "env", "groups", "groups_overflow", "entitlements", "entitlements_overflow", "iat", "exp", "jti", "sid"],
  };
}
