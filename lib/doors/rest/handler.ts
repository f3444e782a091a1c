import "server-only";
import { z } from "zod";
import type { DomainContext } from "@/lib/auth/actor";
import { clientIp } from "@/lib/auth/request-info";
import { authenticateApiToken } from "@/lib/api-tokens";
import { BufferedResponse } from "@/lib/doors/http/buffered";
import { problem, problemFromError } from "@/lib/doors/http/problem";
import { denialReason } from "@/lib/permissions";
import { withIdempotency, type Answer } from "@/lib/api-tokens/idempotency";
import { ENDPOINTS, type Endpoint, type HttpMethod } from "./v1";

export const API_PREFIX = "/api/v1";
export const MAX_BODY_BYTES = 1024 * 1024;
export const RATE_LIMIT_PER_MINUTE = 600;
export const AUTHZ_RATE_LIMIT_PER_MINUTE = 600_000;

type Match = { endpoint: Endpoint; params: Record<string, string> };

const compiled = ENDPOINTS.map((endpoint) => ({
  endpoint,
  names: [...endpoint.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!),
  pattern: new RegExp(`^${endpoint.path.replace(/\{\w+\}/g, "([^/]+)")}$`),
}));

function route(method: string, path: string): Match | { allow: string[] } | null {
  const allow: string[] = [];
  for (const c of compiled) {
    const m = c.pattern.exec(path);
    if (!m) continue;
    if (c.endpoint.method !== method) {
      allow.push(c.endpoint.method);
      continue;
    }
    // A segment that is not valid percent-encoding names no resource: 404, not a thrown URIError.
    const values = c.names.map((_, i) => safeDecode(m[i + 1]!));
    if (values.some((v) => v === null)) return null;
    return { endpoint: c.endpoint, params: Object.fromEntries(c.names.map((n, i) => [n, values[i]!])) };
  }
  return allow.length ? { allow } : null;
}

async function readJson(request: Request): Promise<{ ok: true; value: unknown; text: string } | { ok: false; response: Response }> {
  const type = request.headers.get("content-type") ?? "";
  const length = Number(request.headers.get("content-length") ?? 0);
  if (length > MAX_BODY_BYTES) return { ok: false, response: problem(413, `The body may have at most ${MAX_BODY_BYTES} bytes.`) };
  const text = await request.text();
  if (text.length === 0) return { ok: true, value: undefined, text };
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    return { ok: false, response: problem(415, "Send JSON with Content-Type: application/json.") };
  }
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) return { ok: false, response: problem(413, `The body may have at most ${MAX_BODY_BYTES} bytes.`) };
  try {
    return { ok: true, value: JSON.parse(text), text };
  } catch {
    return { ok: false, response: problem(400, "The body is not valid JSON.", { code: "invalid_json" }) };
  }
}

/**
 * Every /api/v1 request: route → authenticate (bearer API token) → rate limit (per token, in
 * Postgres) → permission → parse query and body → the endpoint's domain call → JSON, or a problem.
 */
function safeDecode(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

export async function handleApiRequest(request: Request, method: HttpMethod): Promise<Response> {
  const requestId = request.headers.get("x-request-id") ?? crypto.randomUUID();
  try {
    const url = new URL(request.url);
    const path = url.pathname.slice(API_PREFIX.length) || "/";
    const match = route(method, path);
    if (!match) return problem(404, `No endpoint ${method} ${path}.`, { requestId });
    if ("allow" in match) return problem(405, `${method} is not allowed here.`, { requestId, headers: { allow: match.allow.join(", ") } });

    const authorization = request.headers.get("authorization") ?? "";
    const bearer = /^Bearer\s+(\S+)$/i.exec(authorization)?.[1];
    const challenge = { "www-authenticate": 'Bearer realm="iam-console"' };
    if (!bearer) return problem(401, "Send an API token: Authorization: Bearer <token>.", { code: "missing_token", requestId, headers: challenge });
    const authenticated = await authenticateApiToken(bearer);
    if (!authenticated) return problem(401, "The API token is unknown, revoked or expired.", { code: "invalid_token", requestId, headers: challenge });
    const { actor } = authenticated;

    // Components asking for decisions (authz tokens) sit on every request path: their own, larger limit.
    const perMinute = actor.type === "api_token" && actor.scope === "authz" ? AUTHZ_RATE_LIMIT_PER_MINUTE : RATE_LIMIT_PER_MINUTE;
    const rateHeaders = { "x-ratelimit-limit": String(perMinute), "x-ratelimit-remaining": String(Math.max(perMinute - authenticated.count, 0)) };
    if (authenticated.count > perMinute) {
      return problem(429, `Rate limit of ${perMinute} requests a minute reached.`, {
        code: "rate_limited",
        requestId,
        headers: { ...rateHeaders, "retry-after": String(authenticated.retryAfterSeconds) },
      });
    }

    const { endpoint, params } = match;
    const reason = denialReason(actor, endpoint.permission[0], endpoint.permission[1], "any");
    if (reason) return problem(403, reason, { code: "forbidden", requestId, headers: rateHeaders });

    const rawQuery = Object.fromEntries(url.searchParams.entries());
    let query: Record<string, unknown> = {};
    if (endpoint.query) {
      const parsed = endpoint.query.safeParse(rawQuery);
      if (!parsed.success) {
        return problem(400, "Some query parameters are not valid.", { code: "invalid_query", requestId, fieldErrors: z.flattenError(parsed.error).fieldErrors as Record<string, string[]> });
      }
      query = parsed.data;
    }
    let body: unknown;
    let bodyText = "";
    if (method !== "GET" && method !== "DELETE") {
      const read = await readJson(request);
      if (!read.ok) return read.response;
      // Every body the API takes is one JSON object (fields are then checked by the domain).
      const isObject = typeof read.value === "object" && read.value !== null && !Array.isArray(read.value);
      if (endpoint.body && read.value !== undefined && !isObject) {
        return problem(400, "The body must be a JSON object.", { code: "invalid_body", requestId, headers: rateHeaders });
      }
      body = read.value;
      bodyText = read.text;
    }

    const ctx: DomainContext = { actor, requestId, ip: clientIp((n) => request.headers.get(n)) };
    const run = async (): Promise<Answer> => {
      const result = await endpoint.handle({ ctx, params, query, body, headers: request.headers });
      return { status: result.status ?? 200, body: result.body, headers: result.headers ?? {} };
    };
    const idempotencyKey = request.headers.get("idempotency-key");
    const answer = method === "POST" && !endpoint.asks && idempotencyKey !== null && actor.type === "api_token" ? await withIdempotency({ tokenId: actor.id, key: idempotencyKey, method, path, bodyText }, run) : await run();
    const headers = { "cache-control": "no-store", "x-request-id": requestId, ...rateHeaders, ...answer.headers };
    if (answer.status === 204) return new Response(null, { status: answer.status, headers });
    return BufferedResponse.json(answer.body, { status: answer.status, headers });
  } catch (error) {
    return problemFromError(error, requestId);
  }
}
