import "server-only";
import { clientErrorOf } from "@/lib/db-errors";
import { eq, sql } from "drizzle-orm";
import { drainBeforeClose, getDb, writesInOrder } from "@/db/client";
import { BufferedResponse } from "@/lib/doors/http/buffered";
import { insertRecords } from "@/db/records";
import { directories, scimRequestLog } from "@/db/schema";
import { hashToken } from "@/lib/auth/secret-token";
import { isSecretName, redact } from "@/lib/audit/record";
import { clientIp } from "@/lib/auth/request-info";
import { hitRateLimitBatched } from "@/lib/rate-limit";
import { authenticateDirectory, scimBaseUrl } from "@/lib/directories";
import { env } from "@/env";
import { ScimError, scimErrorBody } from "./errors";
import { ENTERPRISE_ATTRIBUTES, GROUP_ATTRIBUTES, MAX_STRING, overlongString, SCHEMA, schemaDocument, USER_ATTRIBUTES } from "./schema";
import { createScimGroup, deleteScimGroup, getScimGroup, listScimGroups, patchScimGroup, replaceScimGroup, type ExcludedMember } from "./groups";
import { createScimUser, deleteScimUser, getScimUser, listScimUsers, patchScimUser, replaceScimUser, type ScimContext } from "./users";

// The SCIM door: authenticate the directory's bearer token, limit size and rate, parse JSON, route,
// answer in application/scim+json with SCIM errors. Every request is logged for the directory.

export const MAX_BODY_BYTES = 1024 * 1024;
const CONTENT_TYPE = "application/scim+json; charset=utf-8";

type Handled = { status: number; body?: unknown; headers?: Record<string, string>; change?: Record<string, unknown> };

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new BufferedResponse(body === undefined ? null : JSON.stringify(body), { status, headers: { "content-type": CONTENT_TYPE, ...headers } });
}

/** Projects a representation onto `attributes` / `excludedAttributes` (id, schemas and meta always stay). */
export function project(resource: Record<string, unknown>, attributes: string | null, excluded: string | null): Record<string, unknown> {
  const names = (list: string | null) =>
    (list ?? "")
      .split(",")
      .map((a) => a.trim().replace(/\[.*$/, "").replace(/^urn:ietf:params:scim:schemas:core:2\.0:(User|Group):/i, ""))
      .filter(Boolean);
  const keep = names(attributes);
  const drop = names(excluded);
  const always = new Set(["id", "schemas", "meta"]);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(resource)) {
    const lower = key.toLowerCase();
    if (keep.length) {
      const wanted = keep.filter((k) => k.toLowerCase() === lower || k.toLowerCase().startsWith(lower + "."));
      if (!always.has(key) && wanted.length === 0) continue;
      const subs = wanted.filter((k) => k.includes(".")).map((k) => k.split(".")[1]!.toLowerCase());
      if (subs.length && value && typeof value === "object" && !wanted.some((k) => k.toLowerCase() === lower)) {
        const pick = (o: object) => Object.fromEntries(Object.entries(o).filter(([k]) => subs.includes(k.toLowerCase())));
        // A multi-valued attribute's sub-attribute (emails.value): that of each value.
        out[key] = Array.isArray(value) ? value.map((v) => (v && typeof v === "object" ? pick(v) : v)) : pick(value);
        continue;
      }
    } else if (drop.some((k) => k.toLowerCase() === lower) && !always.has(key)) continue;
    out[key] = value;
  }
  return out;
}

const intParam = (params: URLSearchParams, name: string): number | undefined => {
  const raw = params.get(name);
  if (raw === null || raw === "") return undefined;
  // A whole number as written (Number() would read " " as 0, "0x10" as 16 and "1.5" as 1.5).
  if (!/^[+-]?\d+$/.test(raw.trim())) throw new ScimError(400, `${name} must be a whole number, not ${JSON.stringify(raw.slice(0, 40))}.`, "invalidValue");
  return Number(raw.trim());
};

/**
 * A PATCH's operations as the request log keeps them: secrets redacted by key, as everywhere, and
 * also the value of an operation whose path names one ({"op":"replace","path":"password","value":…},
 * or urn:…:User:password): there the key is only "value".
 */
function loggedOperations(body: unknown): Record<string, unknown> {
  const operations = (body as { Operations?: unknown } | null)?.Operations ?? body;
  if (!Array.isArray(operations)) return redact(operations) as Record<string, unknown>;
  return operations.map((op) => {
    const logged = redact(op);
    if (!logged || typeof logged !== "object" || Array.isArray(logged)) return logged;
    const entries = Object.entries(logged as Record<string, unknown>);
    const path = entries.find(([k]) => k.toLowerCase() === "path")?.[1];
    // The attribute named, without a value filter's text (emails[value eq "pass@x"] names no secret).
    const secret = typeof path === "string" && isSecretName(path.replace(/\[[^\]]*\]/g, ""));
    return secret ? Object.fromEntries(entries.map(([k, v]) => [k, k.toLowerCase() === "value" ? "[redacted]" : v])) : logged;
  }) as unknown as Record<string, unknown>;
}

/** A SearchRequest's body (RFC 7644 §3.4.3) as the query a GET would have carried; sortBy and sortOrder are ignored (sorting is not offered). */
function searchParams(body: unknown): URLSearchParams {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new ScimError(400, "The body must be a JSON object (a SearchRequest).", "invalidSyntax");
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(body as Record<string, unknown>)) {
    const name = ["filter", "startIndex", "count", "attributes", "excludedAttributes"].find((n) => n.toLowerCase() === key.toLowerCase());
    if (!name || value === null || value === undefined) continue;
    if (name === "filter") {
      if (typeof value !== "string") throw new ScimError(400, "filter must be a string.", "invalidValue");
      params.set(name, value);
    } else if (name === "startIndex" || name === "count") {
      if (!Number.isInteger(value)) throw new ScimError(400, `${name} must be a whole number, not ${JSON.stringify(value)}.`, "invalidValue");
      params.set(name, String(value));
    } else {
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new ScimError(400, `${name} must be a list of attribute names.`, "invalidValue");
      params.set(name, value.join(","));
    }
  }
  return params;
}

async function readJson(request: Request): Promise<unknown> {
  const type = (request.headers.get("content-type") ?? "").toLowerCase();
  if (type && !type.startsWith("application/scim+json") && !type.startsWith("application/json")) {
    throw new ScimError(415, "Send the body as application/scim+json or application/json.");
  }
  const buffer = await request.arrayBuffer();
  if (buffer.byteLength > MAX_BODY_BYTES) throw new ScimError(413, `The body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB.`);
  const text = new TextDecoder().decode(buffer);
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (e) {
    throw new ScimError(400, `The body is not valid JSON: ${(e as Error).message}`, "invalidSyntax");
  }
  // Checked on what arrives, so a value stored before the cap never blocks a later PATCH.
  const overlong = text.length > MAX_STRING ? overlongString(document) : null;
  if (overlong) throw new ScimError(400, `${overlong} is longer than ${MAX_STRING.toLocaleString("en")} characters.`, "invalidValue");
  return document;
}

function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: [SCHEMA.serviceProviderConfig],
    documentationUri: `${new URL(baseUrl).origin}/`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 1000 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: true },
    authenticationSchemes: [{ type: "oauthbearertoken", name: "Bearer token", description: "The directory's token, shown once in the console.", primary: true }],
    meta: { resourceType: "ServiceProviderConfig", location: `${baseUrl}/ServiceProviderConfig` },
  };
}

function resourceTypes(baseUrl: string) {
  return [
    {
      schemas: [SCHEMA.resourceType],
      id: "User",
      name: "User",
      endpoint: "/Users",
      description: "User Account",
      schema: SCHEMA.user,
      schemaExtensions: [{ schema: SCHEMA.enterprise, required: false }],
      meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/User` },
    },
    { schemas: [SCHEMA.resourceType], id: "Group", name: "Group", endpoint: "/Groups", description: "Group", schema: SCHEMA.group, meta: { resourceType: "ResourceType", location: `${baseUrl}/ResourceTypes/Group` } },
  ];
}

function schemas(baseUrl: string) {
  return [
    schemaDocument(SCHEMA.user, "User", "User Account", USER_ATTRIBUTES, `${baseUrl}/Schemas/${SCHEMA.user}`),
    schemaDocument(SCHEMA.enterprise, "EnterpriseUser", "Enterprise User", ENTERPRISE_ATTRIBUTES, `${baseUrl}/Schemas/${SCHEMA.enterprise}`),
    schemaDocument(SCHEMA.group, "Group", "Group", GROUP_ATTRIBUTES, `${baseUrl}/Schemas/${SCHEMA.group}`),
  ];
}

const list = (items: unknown[]) => ({ schemas: [SCHEMA.listResponse], totalResults: items.length, startIndex: 1, itemsPerPage: items.length, Resources: items });

/**
 * What a PATCH answers (RFC 7644 §3.5.2 allows either): 200 with the resource, as generic clients
 * expect (they update their state from it); 204 when the directory is set to answer as Microsoft
 * Entra ID expects, unless the request asks for attributes or comes from Okta.
 */
/** Members left out because an access review excluded them: the request log says who and why. */
function excludedChange(excluded: ExcludedMember[]): Record<string, unknown> {
  return excluded.length ? { excludedMembers: excluded.map((e) => ({ value: e.value, user: e.email, reason: e.reason })) } : {};
}

function patchAnswer(sc: ScimContext, request: Request, resource: Handled, change: Handled["change"]): Handled {
  const url = new URL(request.url);
  const wantsBody =
    sc.directory.patchAnswer === "resource" || url.searchParams.has("attributes") || url.searchParams.has("excludedAttributes") || /okta/i.test(request.headers.get("user-agent") ?? "");
  return wantsBody ? { ...resource, change } : { status: 204, headers: resource.headers, change };
}

async function route(sc: ScimContext, request: Request, segments: string[]): Promise<Handled> {
  const url = new URL(request.url);
  const method = request.method.toUpperCase();
  const [collection = "", id, ...extra] = segments;
  const kind = collection.toLowerCase();
  if (extra.length) throw new ScimError(404, `No such endpoint: /${segments.join("/")}.`);
  if (kind === "bulk" || kind === ".search") throw new ScimError(501, `${kind === "bulk" ? "Bulk operations are" : "A search across resource types is"} not supported (see /ServiceProviderConfig); send each request on its own, or search /Users or /Groups.`);
  // A search by POST (RFC 7644 §3.4.3) is a list whose query is in the body.
  const search = (kind === "users" || kind === "groups") && id === ".search";
  if (search && method !== "POST") throw new ScimError(405, `${method} is not allowed on /${collection}/.search: POST a SearchRequest.`);
  const params = search ? searchParams(await readJson(request)) : url.searchParams;
  const attributes = params.get("attributes");
  const excluded = params.get("excludedAttributes");
  const single = (resource: Record<string, unknown>, status = 200): Handled => ({
    status,
    body: project(resource, attributes, excluded),
    headers: { etag: (resource.meta as { version: string }).version, ...(status === 201 ? { location: (resource.meta as { location: string }).location } : {}) },
  });

  if (method === "GET" && (kind === "serviceproviderconfig" || kind === "serviceconfiguration") && !id) return { status: 200, body: serviceProviderConfig(sc.baseUrl) };
  if (method === "GET" && kind === "resourcetypes") {
    const all = resourceTypes(sc.baseUrl);
    if (!id) return { status: 200, body: list(all) };
    const one = all.find((r) => r.id.toLowerCase() === id.toLowerCase());
    if (!one) throw new ScimError(404, `No resource type ${id}.`);
    return { status: 200, body: one };
  }
  if (method === "GET" && kind === "schemas") {
    const all = schemas(sc.baseUrl);
    if (!id) return { status: 200, body: list(all) };
    const one = all.find((s) => s.id.toLowerCase() === id.toLowerCase());
    if (!one) throw new ScimError(404, `No schema ${id}.`);
    return { status: 200, body: one };
  }
  if (kind === "users") {
    if (!id || search) {
      if (method === "GET" || search) {
        const result = await listScimUsers(sc, { filter: params.get("filter"), startIndex: intParam(params, "startIndex"), count: intParam(params, "count") });
        return { status: 200, body: { ...result, Resources: result.Resources.map((r) => project(r, attributes, excluded)) } };
      }
      if (method === "POST") {
        const created = await createScimUser(sc, await readJson(request));
        return { ...single(created, 201), change: { created: created.id, userName: created.userName } };
      }
      throw new ScimError(405, `${method} is not allowed on /Users.`);
    }
    const ifMatch = request.headers.get("if-match");
    if (method === "GET") return single(await getScimUser(sc, id));
    if (method === "PUT") {
      const body = await readJson(request);
      return { ...single(await replaceScimUser(sc, id, body, ifMatch)), change: { replaced: id, body: redact(body) as Record<string, unknown> } };
    }
    if (method === "PATCH") {
      const body = await readJson(request);
      const patched = await patchScimUser(sc, id, body, ifMatch);
      const change = { patched: id, operations: loggedOperations(body) };
      return patchAnswer(sc, request, single(patched), change);
    }
    if (method === "DELETE") {
      await deleteScimUser(sc, id, ifMatch);
      return { status: 204, change: { deleted: id } };
    }
    throw new ScimError(405, `${method} is not allowed on /Users/${id}.`);
  }
  if (kind === "groups") {
    const withMembers = !(excluded ?? "").toLowerCase().split(",").map((a) => a.trim()).includes("members") && (!attributes || /members/i.test(attributes));
    if (!id || search) {
      if (method === "GET" || search) {
        const result = await listScimGroups(sc, { filter: params.get("filter"), startIndex: intParam(params, "startIndex"), count: intParam(params, "count"), withMembers });
        return { status: 200, body: { ...result, Resources: result.Resources.map((r) => project(r, attributes, excluded)) } };
      }
      if (method === "POST") {
        const { resource, ignored, excluded } = await createScimGroup(sc, await readJson(request));
        return { ...single(resource, 201), change: { created: resource.id, displayName: resource.displayName, ...(ignored.length ? { ignoredMembers: ignored } : {}), ...excludedChange(excluded) } };
      }
      throw new ScimError(405, `${method} is not allowed on /Groups.`);
    }
    const ifMatch = request.headers.get("if-match");
    if (method === "GET") return single(await getScimGroup(sc, id, withMembers));
    if (method === "PUT") {
      const { resource, ignored, excluded } = await replaceScimGroup(sc, id, await readJson(request), ifMatch);
      return { ...single(resource), change: { replaced: id, ...(ignored.length ? { ignoredMembers: ignored } : {}), ...excludedChange(excluded) } };
    }
    if (method === "PATCH") {
      const body = await readJson(request);
      // The members only when asked for: a large group's PATCH stays cheap.
      const { resource, ignored, excluded } = await patchScimGroup(sc, id, body, ifMatch, /\bmembers\b/i.test(attributes ?? ""));
      const change = {
        patched: id,
        operations: loggedOperations(body),
        ...(ignored.length ? { ignoredMembers: ignored } : {}),
        ...excludedChange(excluded),
      };
      return patchAnswer(sc, request, single(resource), change);
    }
    if (method === "DELETE") {
      await deleteScimGroup(sc, id, ifMatch);
      return { status: 204, change: { deleted: id } };
    }
    throw new ScimError(405, `${method} is not allowed on /Groups/${id}.`);
  }
  throw new ScimError(404, `No such endpoint: /${segments.join("/")}.`);
}

// The request log is written after the answer, in batches (one insert for many requests, every
// 50 ms at most), so a busy directory does not pay a transaction per request for it. Losing a log
// entry (a crash within those 50 ms) never fails a request; the audit trail is written with the change.
type LogEntry = typeof scimRequestLog.$inferInsert & { createdAt: Date };
const logBuffer: LogEntry[] = [];
let logTimer: ReturnType<typeof setTimeout> | null = null;

function logRequest(entry: LogEntry) {
  logBuffer.push(entry);
  if (logBuffer.length >= 500) void flushRequestLog();
  else logTimer ??= setTimeout(() => void flushRequestLog(), 50);
}

drainBeforeClose("scim request log", () => flushRequestLog());

// A flush returns only once every entry logged before it is written, also those a flush started
// earlier (by the timer or a full buffer) is still writing.
const afterWrites = writesInOrder();

export function flushRequestLog(): Promise<void> {
  if (logTimer) clearTimeout(logTimer);
  logTimer = null;
  const entries = logBuffer.splice(0, logBuffer.length);
  return afterWrites(entries.length ? writeRequestLog(entries) : undefined);
}

async function writeRequestLog(entries: LogEntry[]): Promise<void> {
  // One statement (so no transaction), one text whatever the number of entries (db/records.ts).
  // Each entry keeps the time its request arrived, not the flush's; the directory's last request is
  // the latest of them. An entry whose directory is gone meanwhile is left out, so it cannot fail
  // the others (other directories' among them); a NUL a client sent is stored as U+FFFD (records.ts).
  // The check locks the directory's key, as the foreign key's own check will: a directory deleted
  // while this statement runs is either waited for (and its entries left out) or kept until the end.
  const records = entries.map((e) => ({ directory_id: e.directoryId, created_at: e.createdAt.toISOString(), method: e.method, path: e.path, status: e.status, duration_ms: e.durationMs, change: e.change ?? null }));
  const columns = "directory_id uuid, created_at timestamptz, method text, path text, status int, duration_ms int, change jsonb";
  await getDb()
    .execute(
      sql`with logged as (${insertRecords(scimRequestLog, columns, records, sql`exists (select 1 from ${directories} d where d.id = v.directory_id for key share)`)} returning directory_id, created_at)
        update ${directories} d set last_request_at = greatest(d.last_request_at, l.at)
        from (select directory_id, max(created_at) as at from logged group by directory_id) l
        where d.id = l.directory_id`,
    )
    .catch((e) => console.warn(`[scim] ${entries.length} request log entries not written:`, (e as Error).message));
}

/** Handles /scim/v2/<directory>/<segments…>. */
export async function handleScim(request: Request, directoryId: string, segments: string[]): Promise<Response> {
  const started = performance.now();
  const arrivedAt = new Date();
  const header = request.headers.get("authorization") ?? "";
  const token = /^bearer\s+/i.test(header) ? header.replace(/^bearer\s+/i, "").trim() : null;
  const auth = await authenticateDirectory(directoryId, token);
  if (!auth) {
    if (token) {
      // A valid token of another directory sees nothing here (not even whether it exists).
      const [other] = await getDb().select({ id: directories.id }).from(directories).where(eq(directories.tokenHash, hashToken(token)));
      if (other) return json(404, scimErrorBody(404, "No such directory."));
    }
    return json(401, scimErrorBody(401, token ? "The bearer token is not valid for this directory (wrong, rotated or disabled)." : "Send the directory's bearer token in the Authorization header."), {
      "www-authenticate": 'Bearer realm="scim"',
    });
  }
  // Counted in memory and added to the shared Postgres window a few times a second (exact within an
  // instance): no round trip per request.
  const limit = hitRateLimitBatched(`scim:${auth.directory.id}`, 60);
  if (limit.count > env().SCIM_RATE_LIMIT_PER_MINUTE) {
    return json(429, scimErrorBody(429, `Too many requests; retry in ${limit.retryAfterSeconds} s.`), { "retry-after": String(limit.retryAfterSeconds) });
  }
  const length = Number(request.headers.get("content-length") ?? 0);
  const sc: ScimContext = {
    directory: auth.directory,
    environment: auth.environment,
    ctx: { actor: auth.actor, ip: clientIp((n) => request.headers.get(n)), requestId: request.headers.get("x-request-id") ?? crypto.randomUUID() },
    baseUrl: scimBaseUrl(auth.directory.id),
  };
  let handled: Handled;
  try {
    if (length > MAX_BODY_BYTES) throw new ScimError(413, `The body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB.`);
    handled = await route(sc, request, segments);
  } catch (error) {
    // A refused request's log entry keeps its reason (the directory's admin reads it in the request log).
    if (error instanceof ScimError) handled = { status: error.status, body: scimErrorBody(error.status, error.message, error.scimType), headers: error.headers, change: { error: error.message, ...(error.scimType ? { scimType: error.scimType } : {}) } };
    else {
      const known = clientErrorOf(error);
      if (known) {
        handled = { status: known.status, body: scimErrorBody(known.status, known.message, known.status === 409 ? "uniqueness" : known.status === 400 ? "invalidValue" : undefined), change: { error: known.message } };
      } else {
        console.error(`[scim] unexpected error (request ${sc.ctx.requestId})`, error);
        handled = { status: 500, body: scimErrorBody(500, `Something went wrong on our side (request ${sc.ctx.requestId}).`), change: { error: `Unexpected error (request ${sc.ctx.requestId}).` } };
      }
    }
  }
  const durationMs = Math.round(performance.now() - started);
  const path = new URL(request.url).pathname.replace(/^\/scim\/v2\/[^/]+/, "") || "/";
  logRequest({ directoryId: auth.directory.id, createdAt: arrivedAt, method: request.method, path: path.slice(0, 500), status: handled.status, durationMs, change: handled.change ?? null });
  return json(handled.status, handled.status === 204 ? undefined : handled.body, handled.headers ?? {});
}
