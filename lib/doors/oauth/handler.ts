import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import inject from "light-my-request";
import { clientIp } from "@/lib/auth/request-info";
import { problem } from "@/lib/doors/http/problem";
import { settleOAuthAudit } from "@/lib/oauth/audit";
import { providerFor } from "@/lib/oauth/provider";
import { hitRateLimit, limitedAddress } from "@/lib/rate-limit";
import { jwksResponse } from "@/lib/doors/http/jwks";

/** Dynamic client registrations one address may make per environment and hour. */
export const REGISTRATIONS_PER_HOUR = 30;

// The door of each environment's OAuth authorization server (lib/oauth/provider.ts): oidc-provider
// answers Node requests, so the web Request the lean server routes here is injected into its
// handler in process (light-my-request, Fastify's injector) and its answer comes back as a web
// Response. `path` is the path inside the environment's issuer (/oauth/token, /.well-known/…).

export async function handleOAuth(request: Request, environmentKey: string, path: string): Promise<Response> {
  const found = await providerFor(environmentKey);
  if (!found) return problem(404, `No environment “${environmentKey}”.`, { code: "not_found" });
  // The authorization server's keys are the console's published set, not only the key the library
  // signs with now: an ID token signed just before a rotation still verifies after it, and the next
  // key is known ahead (the library holds only the active key).
  if (path === "/oauth/jwks" && (request.method === "GET" || request.method === "HEAD")) return jwksResponse();
  // Dynamic registration is open to anyone: a flood of registrations from one address is cut.
  if (path === "/oauth/register" && request.method === "POST") {
    const ip = clientIp((n) => request.headers.get(n)) ?? "unknown";
    const limit = await hitRateLimit(`oauth-register:${environmentKey}:${limitedAddress(ip)}`, REGISTRATIONS_PER_HOUR, 3600);
    if (!limit.allowed) {
      return Response.json(
        { error: "temporary_unavailable", error_description: `Too many client registrations from this address; retry in ${limit.retryAfterSeconds} s.` },
        { status: 429, headers: { "retry-after": String(limit.retryAfterSeconds) } },
      );
    }
  }
  const callback = found.provider.callback() as (req: IncomingMessage, res: ServerResponse) => void;
  const url = new URL(request.url);
  const headers: Record<string, string> = {};
  request.headers.forEach((value, key) => {
    headers[key] = value;
  });
  headers.host = url.host;
  headers["x-forwarded-proto"] = url.protocol.replace(":", "");
  const body = request.method === "GET" || request.method === "HEAD" ? undefined : Buffer.from(await request.arrayBuffer());
  const answer = await inject(
    (req, res) => {
      // The issuer's path (/e/<key>) is the mount path: the library builds its URLs from it.
      (req as IncomingMessage & { originalUrl?: string }).originalUrl = `/e/${environmentKey}${path}${url.search}`;
      callback(req, res);
    },
    { method: request.method as "GET", url: `${path}${url.search}`, headers, payload: body, remoteAddress: clientIp((n) => request.headers.get(n)) ?? "127.0.0.1" },
  );
  // The audit rows of what it did (lib/oauth/audit.ts) are written before the answer leaves.
  await settleOAuthAudit();
  const out = new Headers();
  for (const [key, value] of Object.entries(answer.headers)) {
    if (value === undefined || key === "content-length" || key === "transfer-encoding" || key === "connection") continue;
    for (const v of Array.isArray(value) ? value : [value]) out.append(key, String(v));
  }
  const empty = answer.statusCode === 204 || answer.statusCode === 304 || answer.rawPayload.length === 0;
  return new Response(empty ? null : new Uint8Array(answer.rawPayload), { status: answer.statusCode, headers: out });
}
