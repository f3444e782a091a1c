// A platform component (say, the Agent Studio genie runner) that lets a request through only with
// an access token the IAM console issued for this environment and feature, and only to a resource
// the token's user may use. Plain node:http and @iam-console/runtime; nothing else.
//
//   ISSUER=https://iam.example JWKS_URL=https://iam.example/.well-known/jwks.json ENVIRONMENT=prod \
//   FEATURE=agent_studio [API_TOKEN=iam_… CONSOLE_URL=https://iam.example for tokens too large to
//   list their entitlements: the decision endpoint answers then] node server.mjs
//
// GET /resources/<id> with `Authorization: Bearer <token>` answers 200 when allowed, 401 when the
// token is refused (with the reason in WWW-Authenticate and the body), 403 when the user may not.

import http from "node:http";
import { bearerToken, checkRemote, createVerifier, decide } from "@iam-console/runtime";

const { ISSUER, JWKS_URL, ENVIRONMENT, FEATURE = "agent_studio", API_TOKEN, PORT = "0" } = process.env;
// Where the console answers (the decision endpoint); the issuer's origin unless it is reached another way.
const DECISION_BASE = process.env.CONSOLE_URL ?? ISSUER;
if (!ISSUER || !JWKS_URL || !ENVIRONMENT) {
  console.error("Set ISSUER, JWKS_URL and ENVIRONMENT.");
  process.exit(2);
}

const verify = createVerifier({ issuer: ISSUER, jwks: JWKS_URL, environment: ENVIRONMENT });

function answer(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const match = /^\/resources\/([^/?]+)$/.exec(req.url ?? "");
  if (req.method !== "GET" || !match) return answer(res, 404, { error: "not_found" });
  const resource = decodeURIComponent(match[1]);
  const token = bearerToken(req.headers.authorization);

  // 1. Who is calling: the token's signature, issuer, type, expiry, environment and audience.
  const verified = await verify(token, { audience: FEATURE });
  if (!verified.ok) {
    return answer(res, 401, { reason: verified.reason, message: verified.message }, { "www-authenticate": `Bearer error="invalid_token", error_description="${verified.reason}"` });
  }

  // 2. What they may do: from the token's entitlements; a token too large to list them asks the
  //    console's decision endpoint (live state: suspensions and revocations since the token).
  let decision = decide(verified.claims, FEATURE, resource);
  if (decision.reason === "entitlements_overflow" && API_TOKEN) {
    try {
      [decision] = await checkRemote(new URL("/api/v1/authz/check", DECISION_BASE).href, API_TOKEN, { token, environment: ENVIRONMENT, feature: FEATURE, resources: [resource] });
    } catch (error) {
      // The endpoint could not answer: fail closed, and say so.
      return answer(res, 503, { reason: "decision_unavailable", message: String(error.message ?? error) });
    }
  }
  if (!decision.allow) return answer(res, 403, { reason: decision.reason, message: decision.message });
  return answer(res, 200, { allow: true, user: verified.claims.email, resource, reason: decision.reason });
});

server.listen(Number(PORT), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on("SIGTERM", () => server.close(() => process.exit(0)));
