import "server-only";
import { z } from "zod";
import { ACTOR_TYPES, AUDIT_OUTCOMES, DIRECTORY_PATCH_ANSWERS, FEATURES, MCP_TOOLS } from "@/db/enums";
import { eq } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { resources, type Resource } from "@/db/schema";
import { addGrants, listGrants, removeGrant, type GrantView } from "@/lib/access/grants";
import { explain } from "@/lib/access/policy";
import { createResource, deleteResource, findResourceById, listResources, updateResource } from "@/lib/access/resources";
import { listAuditEvents } from "@/lib/audit/queries";
import { createDirectory, getDirectory, listDirectories, requestLog, rotateDirectoryToken, setDirectoryStatus, type DirectoryView } from "@/lib/directories";
import { createEnvironment } from "@/lib/environments";
import { applyInput, applyPromotion, configDocument, exportEnvironmentConfig, planPromotion } from "@/lib/environments/promotion";
import { ForbiddenError, NotFoundError } from "@/lib/errors";
import { authorize, OUTSIDE_SCOPE, type PermissionAction } from "@/lib/permissions";
import { createWebhook, deleteWebhook, listWebhooks, setWebhookEnabled, type WebhookView } from "@/lib/webhooks";
import { bodyEtag, environmentByKey, environmentParam, id, inEnvironment, withIfMatch, type Endpoint } from "./endpoint";

// The configuration half of the admin REST API: resources, grants and explain, directories (SCIM),
// the audit trail, webhooks, creating environments. Each endpoint calls the same domain function as
// the console; the domain checks the permission and the environment scope (the dispatcher's early
// check only asks whether the token may do this anywhere).


// ---- Resources ----------------------------------------------------------------

const resourceOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  feature: z.enum(FEATURES),
  name: z.string(),
  description: z.string(),
  grantCount: z.number().int().optional().describe("Grants on this resource (lists only)"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const resourceBody = (r: Resource & { grantCount?: number }, environment: string): z.output<typeof resourceOut> => ({
  id: r.id,
  environment,
  feature: r.feature,
  name: r.name,
  description: r.description,
  ...(r.grantCount === undefined ? {} : { grantCount: r.grantCount }),
  createdAt: r.createdAt.toISOString(),
  updatedAt: r.updatedAt.toISOString(),
});

/** A resource by id, in whatever environment it is, if the caller may read that environment's resources. */
/** A resource the caller may read, or (`action` write) change: a change out of scope is refused as a change. */
async function readableResource(ctx: Parameters<Endpoint["handle"]>[0]["ctx"], resourceId: string, action: PermissionAction = "read") {
  const found = await findResourceById(resourceId);
  if (!found) throw new NotFoundError("Resource not found.");
  authorize(ctx.actor, "resources", action, [found.resource.environmentId]);
  return found;
}

// ---- Grants -------------------------------------------------------------------

const grantOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  feature: z.enum(FEATURES),
  resource: z.object({ id: z.uuid(), name: z.string() }).nullable().describe("null: the whole feature"),
  tool: z.enum(MCP_TOOLS).nullable().describe("One tool of an MCP server; null: all of it"),
  subject: z.object({ type: z.enum(["group", "user"]), id: z.uuid(), name: z.string(), email: z.string().optional() }),
  createdAt: z.string(),
});
const grantBody = (g: GrantView, environment: string): z.output<typeof grantOut> => ({
  id: g.id,
  environment,
  feature: g.feature,
  resource: g.resourceId ? { id: g.resourceId, name: g.resourceName ?? "" } : null,
  tool: g.tool,
  subject: g.subject,
  createdAt: g.createdAt.toISOString(),
});
const grantsQuery = z.object({
  environment: environmentParam,
  feature: z.enum(FEATURES).optional(),
  resource: z.uuid().optional().describe("Only grants on this resource"),
  group: z.uuid().optional().describe("Only this group's grants"),
  user: z.uuid().optional().describe("Only this user's direct grants"),
});
const addGrantsBody = z.object({
  environment: environmentParam,
  feature: z.enum(FEATURES),
  resourceId: z.uuid().nullable().optional().describe("One resource; omitted or null: the whole feature"),
  tool: z.enum(MCP_TOOLS).nullable().optional().describe("One tool of the MCP server named by resourceId"),
  groupIds: z.array(z.uuid()).max(500).optional(),
  userIds: z.array(z.uuid()).max(500).optional(),
});
const explainBody = z.object({
  environment: environmentParam,
  userId: z.uuid(),
  feature: z.enum(FEATURES),
  resourceId: z.uuid().nullable().optional(),
});
const explainOut = z.object({
  resource: z.uuid().nullable(),
  allow: z.boolean(),
  reason: z.string(),
  message: z.string(),
  path: z.array(z.string()),
  grant: z.object({ id: z.uuid(), feature: z.enum(FEATURES), resourceId: z.uuid().nullable(), tool: z.enum(MCP_TOOLS).optional() }).nullable(),
  group: z.object({ id: z.uuid(), name: z.string() }).nullable(),
});

// ---- Directories ----------------------------------------------------------------

const directoryOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  name: z.string(),
  status: z.string(),
  scimBaseUrl: z.string().describe("Give this and the token to the IdP's SCIM client"),
  tokenHint: z.string().describe("The token's first and last characters"),
  identityProvider: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  logRetentionDays: z.number().int(),
  patchAnswer: z.enum(DIRECTORY_PATCH_ANSWERS),
  createdAt: z.string(),
});
const directoryWithToken = directoryOut.extend({ token: z.string().describe("The SCIM bearer token, shown once") });
const directoryBody = (d: DirectoryView, environment: string): z.output<typeof directoryOut> => ({
  id: d.id,
  environment,
  name: d.name,
  status: d.status,
  scimBaseUrl: d.baseUrl,
  tokenHint: d.tokenHint,
  identityProvider: d.identityProviderId ? { id: d.identityProviderId, name: d.identityProviderName ?? "" } : null,
  logRetentionDays: d.logRetentionDays,
  patchAnswer: d.patchAnswer,
  createdAt: d.createdAt.toISOString(),
});
const createDirectoryBody = z.object({
  environment: environmentParam,
  name: z.string(),
  identityProviderId: z.uuid().nullable().optional().describe("The IdP that feeds it (for the record)"),
  logRetentionDays: z.number().int().optional(),
  patchAnswer: z.enum(DIRECTORY_PATCH_ANSWERS).optional().describe("no_content for Microsoft Entra ID"),
});
const requestLogOut = z.object({
  data: z.array(
    z.object({
      id: z.number().int(),
      at: z.string(),
      method: z.string(),
      path: z.string(),
      status: z.number().int(),
      durationMs: z.number().int(),
      change: z.unknown().describe("What the request changed, or why it was refused"),
    }),
  ),
});

/** A directory the caller may read, or (`action` write) change. */
async function readableDirectory(ctx: Parameters<Endpoint["handle"]>[0]["ctx"], directoryId: string, action: PermissionAction = "read") {
  const found = await getDirectory(directoryId);
  if (!found) throw new NotFoundError("Directory not found.");
  authorize(ctx.actor, "directories", action, [found.directory.environmentId]);
  return found;
}

// ---- Audit ---------------------------------------------------------------------

const auditQuery = z.object({
  environment: z.string().max(64).optional().describe("Environment key; a token limited to environments must name one of them"),
  actorType: z.enum(ACTOR_TYPES).optional(),
  actor: z.string().max(200).optional().describe("Part of the actor's label, or its id"),
  action: z.string().max(200).optional().describe("An action (user.create), or a prefix: user. or a word without a dot (user)"),
  accountWide: z.enum(["true", "false"]).optional().describe("With environment: also the account-wide events (members, tokens, IdPs); not for tokens limited to environments"),
  target: z.string().max(200).optional().describe("Part of the target's label, or its id"),
  outcome: z.enum(AUDIT_OUTCOMES).optional(),
  from: z.string().max(40).optional().describe("YYYY-MM-DD or an ISO time"),
  to: z.string().max(40).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: z.string().regex(/^\d+$/, "Pass the nextCursor of the previous page.").optional(),
});
const auditOut = z.object({
  id: z.number().int(),
  occurredAt: z.string(),
  actor: z.object({ type: z.enum(ACTOR_TYPES), id: z.string().nullable(), label: z.string() }),
  action: z.string(),
  target: z.object({ type: z.string(), id: z.string().nullable(), label: z.string().nullable() }),
  environment: z.string().nullable(),
  outcome: z.enum(AUDIT_OUTCOMES),
  reason: z.string().nullable(),
  before: z.unknown(),
  after: z.unknown(),
  requestId: z.string().nullable(),
  ip: z.string().nullable(),
  hash: z.string().nullable().describe("The row's link in the hash chain (null until sealed, within seconds): SHA-256 (hex) of prevHash, a newline and sealedContent"),
  seq: z.number().int().nullable().describe("The row's position in the chain (null until sealed)"),
  prevHash: z.string().nullable().describe("The hash of the row at position seq - 1 (null until sealed)"),
  sealedContent: z.string().nullable().describe("What the hash covers: every column as Postgres prints it (times in UTC), as one JSON array (null until sealed)"),
});

// ---- Webhooks ------------------------------------------------------------------

const webhookOut = z.object({
  id: z.uuid(),
  name: z.string(),
  url: z.string(),
  actions: z.array(z.string()).describe("Action prefixes sent; empty: every action"),
  enabled: z.boolean(),
  pending: z.number().int(),
  delivered: z.number().int(),
  dead: z.number().int(),
  createdAt: z.string(),
});
const webhookBody = (w: WebhookView): z.output<typeof webhookOut> => ({ ...w, createdAt: w.createdAt.toISOString() });
const createWebhookBody = z.object({
  name: z.string(),
  url: z.string().describe("https (plain http only to this machine)"),
  actions: z.array(z.string()).optional(),
});

async function webhookById(webhookId: string) {
  const found = (await listWebhooks()).find((w) => w.id === webhookId);
  if (!found) throw new NotFoundError("Webhook not found.");
  return found;
}

const planOut = z.object({
  environment: z.string(),
  from: z.string().describe("The environment the document was exported from"),
  hash: z.string().describe("Pass it to apply as planHash: apply refuses if the plan changed since"),
  changes: z.array(z.object({ action: z.enum(["create", "change", "remove"]), kind: z.string(), label: z.string(), before: z.unknown().optional(), after: z.unknown().optional() })),
  notes: z.array(z.string()),
  text: z.string(),
});

const environmentOut = z.object({ id: z.uuid(), key: z.string(), name: z.string(), description: z.string() });

export const CONFIG_ENDPOINTS: Endpoint[] = [
  {
    method: "POST",
    path: "/environments",
    summary: "Create an environment (with its Everyone group)",
    tag: "Environments",
    permission: ["environments", "write"],
    body: z.object({ key: z.string(), name: z.string(), description: z.string().optional() }),
    response: environmentOut,
    status: 201,
    async handle({ ctx, body }) {
      const e = await createEnvironment(ctx, body);
      return { status: 201, body: { id: e.id, key: e.key, name: e.name, description: e.description } };
    },
  },
  {
    method: "GET",
    path: "/environments/{key}/config",
    summary: "Export an environment's configuration (groups, resources, grants, sign-in settings, IdP mappings; never users or secrets) as one versioned document",
    tag: "Promotion",
    permission: ["groups", "read"],
    response: configDocument,
    async handle({ ctx, params }) {
      return { body: await exportEnvironmentConfig(ctx, params.key!) };
    },
  },
  {
    method: "POST",
    path: "/environments/{key}/plan",
    summary: "What applying a configuration document to this environment would create, change and remove (text: `No changes.` when nothing)",
    tag: "Promotion",
    asks: true,
    permission: ["groups", "read"],
    body: z.record(z.string(), z.unknown()).describe("A document from GET /environments/{key}/config"),
    response: planOut,
    async handle({ ctx, params, body }) {
      return { body: await planPromotion(ctx, params.key!, body) };
    },
  },
  {
    method: "POST",
    path: "/environments/{key}/apply",
    summary: "Apply a configuration document in one transaction, audited as one promotion; with planHash, refused if anything changed since that plan",
    tag: "Promotion",
    permission: ["groups", "write"],
    body: applyInput.extend({ document: z.record(z.string(), z.unknown()) }),
    response: planOut,
    async handle({ ctx, params, body }) {
      return { body: await applyPromotion(ctx, params.key!, body) };
    },
  },
  {
    method: "GET",
    path: "/resources",
    summary: "List the resources of an environment (genies, workspaces, MCP servers)",
    tag: "Resources",
    permission: ["resources", "read"],
    query: z.object({ environment: environmentParam, feature: z.enum(FEATURES).optional() }),
    response: z.object({ data: z.array(resourceOut) }),
    async handle({ ctx, query }) {
      const env = await environmentByKey(String(query.environment));
      authorize(ctx.actor, "resources", "read", [env.id]);
      const rows = await listResources(env.id, query.feature as (typeof FEATURES)[number] | undefined);
      return { body: { data: rows.map((r) => resourceBody(r, env.key)) } };
    },
  },
  {
    method: "POST",
    path: "/resources",
    summary: "Create a resource",
    tag: "Resources",
    permission: ["resources", "write"],
    body: z.object({ environment: environmentParam, feature: z.enum(FEATURES), name: z.string(), description: z.string().optional() }),
    response: resourceOut,
    status: 201,
    async handle({ ctx, body }) {
      const { env, rest } = await inEnvironment(body);
      const created = await createResource(ctx, { ...rest, environmentId: env.id });
      return { status: 201, body: resourceBody(created, env.key) };
    },
  },
  {
    method: "GET",
    path: "/resources/{id}",
    summary: "Read a resource",
    tag: "Resources",
    permission: ["resources", "read"],
    response: resourceOut,
    async handle({ ctx, params }) {
      const found = await readableResource(ctx, id(params));
      const body = resourceBody(found.resource, found.environmentKey);
      return { body, headers: { etag: bodyEtag(body) } };
    },
  },
  {
    method: "PATCH",
    path: "/resources/{id}",
    summary: "Rename a resource or change its description (If-Match for optimistic concurrency, 412 when stale)",
    tag: "Resources",
    permission: ["resources", "write"],
    body: z.object({ name: z.string().optional(), description: z.string().optional() }).describe("What is given changes; what is left out stays"),
    response: resourceOut,
    async handle({ ctx, params, body, headers }) {
      const found = await readableResource(ctx, id(params), "write");
      const locked = async (tx: Tx) => {
        await tx.select({ id: resources.id }).from(resources).where(eq(resources.id, found.resource.id)).for("update");
        const now = await readableResource(ctx, found.resource.id);
        return bodyEtag(resourceBody(now.resource, now.environmentKey));
      };
      const updated = await withIfMatch(headers, { lock: locked, change: () => updateResource(ctx, found.resource.id, body) });
      const out = resourceBody(updated, found.environmentKey);
      return { body: out, headers: { etag: bodyEtag(out) } };
    },
  },
  {
    method: "DELETE",
    path: "/resources/{id}",
    summary: "Delete a resource and its grants",
    tag: "Resources",
    permission: ["resources", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await deleteResource(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: "/grants",
    summary: "List the grants of an environment (filter by feature, resource, group or user)",
    tag: "Grants",
    permission: ["access_grants", "read"],
    query: grantsQuery,
    response: z.object({ data: z.array(grantOut) }),
    async handle({ ctx, query }) {
      const q = query as z.output<typeof grantsQuery>;
      const env = await environmentByKey(q.environment);
      authorize(ctx.actor, "access_grants", "read", [env.id]);
      const rows = await listGrants({ environmentId: env.id, feature: q.feature, resourceId: q.resource, groupId: q.group, userId: q.user });
      return { body: { data: rows.map((g) => grantBody(g, env.key)) } };
    },
  },
  {
    method: "POST",
    path: "/grants",
    summary: "Grant groups or users a feature, a resource, or one tool of an MCP server",
    tag: "Grants",
    permission: ["access_grants", "write"],
    body: addGrantsBody,
    response: z.object({ added: z.number().int(), unchanged: z.number().int() }),
    status: 201,
    async handle({ ctx, body }) {
      const { env, rest } = await inEnvironment(body);
      return { status: 201, body: await addGrants(ctx, { ...rest, environmentId: env.id }) };
    },
  },
  {
    method: "DELETE",
    path: "/grants/{id}",
    summary: "Remove a grant",
    tag: "Grants",
    permission: ["access_grants", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await removeGrant(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: "/grants/explain",
    summary: "Explain whether a user may use a feature or resource, and by which grant",
    tag: "Grants",
    asks: true,
    permission: ["access_grants", "read"],
    body: explainBody,
    response: explainOut,
    async handle({ ctx, body }) {
      return { body: await explain(ctx, body) };
    },
  },
  {
    method: "GET",
    path: "/directories",
    summary: "List the SCIM directories of an environment",
    tag: "Directories",
    permission: ["directories", "read"],
    query: z.object({ environment: environmentParam }),
    response: z.object({ data: z.array(directoryOut) }),
    async handle({ ctx, query }) {
      const env = await environmentByKey(String(query.environment));
      authorize(ctx.actor, "directories", "read", [env.id]);
      return { body: { data: (await listDirectories(env.id)).map((d) => directoryBody(d, env.key)) } };
    },
  },
  {
    method: "POST",
    path: "/directories",
    summary: "Create a SCIM directory; answers its SCIM base URL and token (shown once)",
    tag: "Directories",
    permission: ["directories", "write"],
    body: createDirectoryBody,
    response: directoryWithToken,
    status: 201,
    async handle({ ctx, body }) {
      const { env, rest } = await inEnvironment(body);
      const { directory, token } = await createDirectory(ctx, { ...rest, environmentId: env.id });
      return { status: 201, body: { ...directoryBody(directory, env.key), token } };
    },
  },
  {
    method: "GET",
    path: "/directories/{id}",
    summary: "Read a directory",
    tag: "Directories",
    permission: ["directories", "read"],
    response: directoryOut,
    async handle({ ctx, params }) {
      const found = await readableDirectory(ctx, id(params));
      return { body: directoryBody(found.directory, found.environmentKey) };
    },
  },
  {
    method: "POST",
    path: "/directories/{id}/rotate-token",
    summary: "Replace a directory's token (the old one stops at once); answers the new one, shown once",
    tag: "Directories",
    permission: ["directories", "write"],
    response: directoryWithToken,
    async handle({ ctx, params }) {
      const found = await readableDirectory(ctx, id(params), "write");
      const { directory, token } = await rotateDirectoryToken(ctx, found.directory.id);
      return { body: { ...directoryBody(directory, found.environmentKey), token } };
    },
  },
  {
    method: "POST",
    path: "/directories/{id}/disable",
    summary: "Disable a directory (every SCIM request refused until enabled)",
    tag: "Directories",
    permission: ["directories", "write"],
    response: directoryOut,
    async handle({ ctx, params }) {
      const found = await readableDirectory(ctx, id(params), "write");
      return { body: directoryBody(await setDirectoryStatus(ctx, found.directory.id, "disabled"), found.environmentKey) };
    },
  },
  {
    method: "POST",
    path: "/directories/{id}/enable",
    summary: "Enable a disabled directory",
    tag: "Directories",
    permission: ["directories", "write"],
    response: directoryOut,
    async handle({ ctx, params }) {
      const found = await readableDirectory(ctx, id(params), "write");
      return { body: directoryBody(await setDirectoryStatus(ctx, found.directory.id, "active"), found.environmentKey) };
    },
  },
  {
    method: "GET",
    path: "/directories/{id}/requests",
    summary: "The directory's SCIM request log, newest first",
    tag: "Directories",
    permission: ["directories", "read"],
    query: z.object({ limit: z.coerce.number().int().min(1).max(1000).optional() }),
    response: requestLogOut,
    async handle({ ctx, params, query }) {
      const found = await readableDirectory(ctx, id(params));
      const log = await requestLog(found.directory.environmentId, found.directory.id, (query.limit as number | undefined) ?? 200);
      return {
        body: {
          data: log.entries.map((e) => ({ id: e.id, at: e.createdAt.toISOString(), method: e.method, path: e.path, status: e.status, durationMs: e.durationMs, change: e.change })),
        },
      };
    },
  },
  {
    method: "GET",
    path: "/audit-events",
    summary: "The audit trail, newest first, with the console's filters and cursor paging",
    tag: "Audit",
    permission: ["audit", "read"],
    query: auditQuery,
    response: z.object({ data: z.array(auditOut), nextCursor: z.string().nullable() }),
    async handle({ ctx, query }) {
      const q = query as z.output<typeof auditQuery>;
      // An environment that does not exist is named as such, not answered with an empty trail.
      if (q.environment) await environmentByKey(q.environment);
      // The trail spans environments: a token limited to some sees one of them at a time.
      if (ctx.actor.type === "api_token" && ctx.actor.environmentIds) {
        if (!q.environment) throw new ForbiddenError("This API token is scoped to environments: pass ?environment=<key> of one of them.");
        const env = await environmentByKey(q.environment);
        if (!ctx.actor.environmentIds.includes(env.id)) throw new ForbiddenError(OUTSIDE_SCOPE.read);
        if (q.accountWide === "true") throw new ForbiddenError("This API token is scoped to environments: it reads their events, not the account-wide ones.");
      }
      const { cursor, ...filters } = q;
      // listAuditEvents parses the filters (400 with each field's reason).
      const { rows, next } = await listAuditEvents({ ...filters, before: cursor }, { sealed: true });
      return {
        body: {
          data: rows.map((e) => ({
            id: e.id,
            occurredAt: e.occurredAt.toISOString(),
            actor: { type: e.actorType, id: e.actorId, label: e.actorLabel },
            action: e.action,
            target: { type: e.targetType, id: e.targetId, label: e.targetLabel },
            environment: e.environmentKey,
            outcome: e.outcome,
            reason: e.reason,
            before: e.before,
            after: e.after,
            requestId: e.requestId,
            ip: e.ip,
            hash: e.hash,
            seq: e.seq,
            prevHash: e.prevHash,
            sealedContent: e.sealedContent,
          })),
          nextCursor: next === null ? null : String(next),
        },
      };
    },
  },
  {
    method: "GET",
    path: "/webhooks",
    summary: "List the audit webhooks",
    tag: "Webhooks",
    permission: ["webhooks", "read"],
    response: z.object({ data: z.array(webhookOut) }),
    async handle() {
      return { body: { data: (await listWebhooks()).map(webhookBody) } };
    },
  },
  {
    method: "POST",
    path: "/webhooks",
    summary: "Create an audit webhook; answers its signing secret (shown once)",
    tag: "Webhooks",
    permission: ["webhooks", "write"],
    body: createWebhookBody,
    response: z.object({ id: z.uuid(), secret: z.string() }),
    status: 201,
    async handle({ ctx, body }) {
      return { status: 201, body: await createWebhook(ctx, body) };
    },
  },
  {
    method: "POST",
    path: "/webhooks/{id}/disable",
    summary: "Stop sending to a webhook",
    tag: "Webhooks",
    permission: ["webhooks", "write"],
    response: webhookOut,
    async handle({ ctx, params }) {
      await setWebhookEnabled(ctx, id(params), false);
      return { body: webhookBody(await webhookById(id(params))) };
    },
  },
  {
    method: "POST",
    path: "/webhooks/{id}/enable",
    summary: "Send to a webhook again",
    tag: "Webhooks",
    permission: ["webhooks", "write"],
    response: webhookOut,
    async handle({ ctx, params }) {
      await setWebhookEnabled(ctx, id(params), true);
      return { body: webhookBody(await webhookById(id(params))) };
    },
  },
  {
    method: "DELETE",
    path: "/webhooks/{id}",
    summary: "Delete a webhook",
    tag: "Webhooks",
    permission: ["webhooks", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await deleteWebhook(ctx, id(params));
      return { status: 204 };
    },
  },
];
