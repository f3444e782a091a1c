import "server-only";
import { createHash } from "node:crypto";
import { z } from "zod";
import type { Tx } from "@/db/client";
import type { DomainContext } from "@/lib/auth/actor";
import { inOneTransaction } from "@/lib/domain/transaction";
import { findEnvironmentByKey } from "@/lib/environments";
import { ForbiddenError, NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { authorize, type PermissionAction, type PermissionResource } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// What an endpoint of the admin REST API is (lib/doors/rest/v1.ts and v1-config.ts declare them; the
// dispatcher in handler.ts runs them; openapi.ts describes them), and the helpers they share.

export type HttpMethod = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

export type ApiCall = {
  ctx: DomainContext;
  params: Record<string, string>;
  query: Record<string, unknown>;
  body: unknown;
  headers: Headers;
};

export type ApiResult = { status?: number; body?: unknown; headers?: Record<string, string> };

export type Endpoint = {
  method: HttpMethod;
  path: string;
  summary: string;
  tag: ApiTag;
  permission: [PermissionResource, PermissionAction];
  query?: z.ZodObject;
  body?: z.ZodType;
  response: z.ZodType;
  status?: number;
  /**
   * A POST that only asks (its question too large or structured for a query string) and changes
   * nothing: answered afresh every time, so an Idempotency-Key is ignored. A replayed decision would
   * allow a user suspended since.
   */
  asks?: true;
  handle: (call: ApiCall) => Promise<ApiResult>;
};

export type ApiTag =
  | "Environments"
  | "Users"
  | "Groups"
  | "Console members"
  | "Access reviews"
  | "Access requests"
  | "Authorization"
  | "Resources"
  | "Grants"
  | "Directories"
  | "Audit"
  | "Webhooks"
  | "Promotion"
  | "Sign-in"
  | "Identity providers";

export async function environmentByKey(key: string) {
  const env = await findEnvironmentByKey(key);
  if (!env) throw new NotFoundError(`No environment “${key}”.`);
  return env;
}

export const environmentParam = z.string({ error: "Name the environment (its key)." }).min(1, "Name the environment (its key).").max(64).describe("Environment key, e.g. prod");

/** A body naming its environment by key: the environment (404 “No environment …” when none has it), and the rest for the domain (which takes the id). */
export async function inEnvironment(body: unknown) {
  const { environment, ...rest } = parseInput(z.looseObject({ environment: environmentParam }), body ?? {});
  return { env: await environmentByKey(environment), rest };
}

/** An environment-scoped token must name an environment of its scope to read lists. */
export function requireScopedRead(ctx: DomainContext, resource: PermissionResource, environmentId: string | undefined) {
  if (environmentId) return authorize(ctx.actor, resource, "read", [environmentId]);
  if (ctx.actor.type === "api_token" && ctx.actor.environmentIds) {
    throw new ForbiddenError("This API token is scoped to environments: pass ?environment=<key> of one of them.");
  }
}

/** A path parameter that must be a UUID: anything else names no resource (404). */
export function id(params: Record<string, string>, name = "id") {
  const parsed = uuidSchema.safeParse(params[name]);
  if (!parsed.success) throw new NotFoundError("No such resource (the id is not a UUID).");
  return parsed.data;
}

/** A row's version as a weak ETag. */
export const etag = (version: number) => `W/"${version}"`;

/**
 * The If-Match header's entity tag (without W/), or undefined without one or with `*` (any current
 * representation: RFC 9110 §13.1.1; a resource that does not exist is answered 404 anyway). A list
 * naming one tag (repeated) is that tag; one that is not an ETag, or a list of different ones, is a 400.
 */
function ifMatchTag(headers: Headers): string | undefined {
  const value = headers.get("if-match")?.trim();
  if (!value || value === "*") return undefined;
  const tags = value.split(",").map((part) => /^(?:W\/)?"([^"]*)"$/.exec(part.trim())?.[1]);
  if (tags.some((t) => t === undefined)) throw new ValidationError('If-Match must be an ETag this API returned, like W/"3".', { "If-Match": ["Not an ETag of this API."] });
  if (new Set(tags).size > 1) throw new ValidationError("If-Match names one ETag here (the version you read).", { "If-Match": ["Send one ETag."] });
  return tags[0];
}

/**
 * What a tag that is no version of ours (`W/"0"`, `W/"01"`, `W/"x"`) expects: a version no row has
 * (versions are positive Postgres integers, below 2^31), so the domain, which authorizes first and
 * then compares, answers 412 as on any other resource, never a 400 naming a field the client did not send.
 */
const NO_VERSION = 2 ** 31;

/** The version an If-Match header names, or undefined without one; a malformed one is a 400, and a tag that is no version of ours matches nothing (412, as with any other resource). */
export function ifMatchVersion(headers: Headers): number | undefined {
  const tag = ifMatchTag(headers);
  if (tag === undefined) return undefined;
  // Exactly as etag() writes a version: digits without a leading zero.
  return /^[1-9]\d{0,8}$/.test(tag) ? Number(tag) : NO_VERSION;
}

/** An ETag for a row without a version column: a digest of its representation (changes with any field). */
export const bodyEtag = (body: unknown) => `W/"${createHash("sha256").update(JSON.stringify(body)).digest("base64url").slice(0, 22)}"`;

/**
 * If-Match on a resource whose ETag is not a row version the domain checks itself. `authorize` runs
 * first, with or without the header: it throws when the actor may not change this resource (the
 * domain's own refusal, e.g. `authorize(actor, "groups", "write", [group.environmentId])`), so an
 * actor outside the resource's scope gets that 403 before its row is locked or its tag compared,
 * and learns nothing of its version. Then, with the header, `lock` locks the row in a transaction
 * and answers its current ETag; a different one is 412, else `change` runs in that same transaction
 * (the domain's own transaction becomes a savepoint), so nothing can change the row between the
 * comparison and the change. Without the header, `change` runs.
 */
export async function withIfMatch<T>(
  headers: Headers,
  steps: { authorize?: () => void | Promise<void>; lock: (tx: Tx) => Promise<string>; change: () => Promise<T> },
): Promise<T> {
  const wanted = ifMatchTag(headers);
  // Without a tag there is nothing to compare: the domain's change authorizes (no read twice).
  if (wanted === undefined) return steps.change();
  await steps.authorize?.();
  return inOneTransaction(async (tx) => {
    if ((await steps.lock(tx)).replace(/^W\/"|"$/g, "") !== wanted) throw new VersionConflictError("This was changed since you read it (If-Match does not match its ETag): read it again.");
    return steps.change();
  });
}
