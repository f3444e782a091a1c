import "server-only";
import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31 } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { commandOf } from "./commands";
import { ENDPOINTS } from "./v1";

extendZodWithOpenApi(z);

const problemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.record(z.string(), z.array(z.string())).optional(),
  requestId: z.string().optional(),
});

const PROBLEMS: Record<number, string> = {
  400: "Invalid input (query, JSON or fields); `errors` lists every field",
  401: "Missing, unknown, revoked or expired API token",
  403: "The token's scope (read-only, or other environments) or role does not allow this",
  404: "No such resource",
  409: "Conflict, e.g. a duplicate email or group name, a change that would leave no active owner (`last_owner`), or a request with the same Idempotency-Key still running",
  412: "If-Match does not match the current version",
  413: "Body larger than 1 MiB",
  415: "Body is not JSON",
  422: "The Idempotency-Key was already used for a different request",
  429: "Rate limit reached; see Retry-After",
};

let cached: unknown;

/** OpenAPI 3.1 for /api/v1, generated from the same zod schemas the endpoints parse with. */
export function openApiDocument(): unknown {
  if (cached) return cached;
  const registry = new OpenAPIRegistry();
  registry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer", description: "An API token from Settings" });
  const problem = registry.register("Problem", problemSchema);
  for (const e of ENDPOINTS) {
    const names = [...e.path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!);
    const success = e.status ?? 200;
    registry.registerPath({
      method: e.method.toLowerCase() as "get" | "post" | "patch" | "put" | "delete",
      path: e.path,
      operationId: commandOf(e, ENDPOINTS),
      summary: e.summary,
      tags: [e.tag],
      security: [{ bearer: [] }],
      request: {
        params: names.length ? z.object(Object.fromEntries(names.map((n) => [n, z.string()]))) : undefined,
        query: e.query,
        headers:
          e.method === "POST" && !e.asks
            ? z.object({
                "Idempotency-Key": z
                  .string()
                  .optional()
                  .describe("Make a retry safe: the same key with the same request answers the first answer (for 24 hours, marked Idempotent-Replayed: true); with another request, 422"),
              })
            : undefined,
        body: e.body ? { content: { "application/json": { schema: e.body } }, required: true } : undefined,
      },
      responses: {
        [success]: success === 204 ? { description: "Done" } : { description: "OK", content: { "application/json": { schema: e.response } } },
        ...Object.fromEntries(
          Object.entries(PROBLEMS).map(([status, description]) => [status, { description, content: { "application/problem+json": { schema: problem } } }]),
        ),
      },
    });
  }
  cached = new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "Identity console admin API",
      version: "1.0.0",
      description: "Users, environments, environment access, groups and members, console members, access reviews and their sync exclusions, access requests, resources and grants, SCIM directories, the audit trail and webhooks. Errors are RFC 9457 problem details.",
    },
    servers: [{ url: "/api/v1" }],
  });
  return cached;
}
