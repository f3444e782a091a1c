import "server-only";
import type { z } from "zod";
import type { DomainContext } from "@/lib/auth/actor";
import { findEnvironmentByKey } from "@/lib/environments";
import { ForbiddenError, NotFoundError } from "@/lib/errors";
import { authorize, type PermissionAction, type PermissionResource } from "@/lib/permissions";
import { uuidSchema } from "@/lib/validation";

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
  | "Promotion";

export async function environmentByKey(key: string) {
  const env = await findEnvironmentByKey(key);
  if (!env) throw new NotFoundError(`No environment “${key}”.`);
  return env;
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
