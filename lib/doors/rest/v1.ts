import "server-only";
import { eq } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Tx } from "@/db/client";
import { CONSOLE_MEMBER_STATUSES, CONSOLE_ROLES, REVIEW_DECISIONS, REVIEW_SCOPES, USER_SOURCES, USER_STATUSES } from "@/db/enums";
import { accessReviews, consoleMembers, environments, groups } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import {
  changeConsoleMemberRole,
  changeConsoleMemberRoleInput,
  checkConsoleMemberRoleChange,
  getConsoleMember,
  inviteConsoleMember,
  inviteConsoleMemberInput,
  listConsoleMembers,
  reactivateConsoleMember,
  removeConsoleMember,
  resendConsoleInvitation,
  suspendConsoleMember,
  type ConsoleMemberRow,
} from "@/lib/console-members";
import { listEnvironments } from "@/lib/environments";
import { DomainError, ForbiddenError, NotFoundError } from "@/lib/errors";
import { addMembers, createGroup, createGroupInput, deleteGroup, listGroupsPage, removeMembers, updateGroup, updateGroupInput } from "@/lib/groups";
import { liftExclusion } from "@/lib/groups/exclusions";
import { authorize, OUTSIDE_SCOPE } from "@/lib/permissions";
import { closeAccessReview, createAccessReview, decideReviewItems, getAccessReview, listAccessReviews, type ReviewSummary } from "@/lib/reviews";
import { createUser, createUserInput, deleteUser, grantEnvironment, reactivateUser, revokeEnvironment, suspendUser, updateUser } from "@/lib/users";
import { getUserDetail } from "@/lib/users/detail";
import { listUsers } from "@/lib/users/list";
import { USER_SORTS } from "@/lib/users/list-params";
import { parseInput, uuidSchema } from "@/lib/validation";
import { bodyEtag, environmentByKey, etag, id, ifMatchVersion, inEnvironment, requireScopedRead, withIfMatch, type Endpoint } from "./endpoint";
import { CONFIG_ENDPOINTS } from "./v1-config";
import { SSO_ENDPOINTS } from "./v1-sso";

export type { ApiCall, ApiResult, Endpoint, HttpMethod } from "./endpoint";
import { ACCESS_REQUEST_STATUSES, FEATURES, MCP_TOOLS } from "@/db/enums";
import { decideAccessRequest, getAccessRequest, listAccessRequests, type AccessRequestView } from "@/lib/access-requests";
import { decide } from "@/lib/access/policy";
import { decideWithToken } from "@/lib/tokens/verify";
import { mcpServerUrl } from "@/lib/tokens/mint";
import { REASONS } from "@iam-console/runtime";

// The admin REST API, one table of endpoints: the dispatcher (lib/doors/rest/handler.ts) authenticates,
// rate-limits, checks the permission, parses query and body with these schemas, and calls `handle`,
// which calls the same domain functions as the console. The OpenAPI document is generated from it.

// ---- Shapes -----------------------------------------------------------------

const environmentOut = z.object({ id: z.uuid(), key: z.string(), name: z.string(), description: z.string() });
const userOut = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  status: z.enum(USER_STATUSES),
  source: z.enum(USER_SOURCES),
  version: z.number().int(),
  environments: z.array(z.object({ key: z.string(), source: z.string() })),
  groups: z.array(z.object({ environment: z.string(), id: z.uuid(), name: z.string(), source: z.string() })),
  lastSignInAt: z.string().nullable(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const userListItem = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  status: z.enum(USER_STATUSES),
  source: z.enum(USER_SOURCES),
  environments: z.array(z.string()),
  groups: z.array(z.string()),
  lastSignInAt: z.string().nullable(),
  createdAt: z.string(),
});
const page = <T extends z.ZodType>(item: T) =>
  z.object({
    data: z.array(item),
    nextCursor: z.string().nullable(),
    prevCursor: z.string().nullable().optional(),
    total: z.object({ value: z.number().int(), exact: z.boolean() }).nullable().optional(),
  });
const groupOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  name: z.string(),
  description: z.string(),
  source: z.string(),
  memberCount: z.number().int(),
  version: z.number().int(),
});
const membersResult = z.object({
  changed: z.array(z.uuid()),
  unchanged: z.array(z.uuid()),
  failed: z.array(z.object({ userId: z.string(), reason: z.string() })),
});
const membersBody = z.object({ userIds: z.array(uuidSchema).min(1).max(10_000) });
const csv = (values: readonly string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const list = v ? v.split(",").map((s) => s.trim()).filter(Boolean) : [];
      for (const item of list) {
        if (!values.includes(item)) ctx.addIssue({ code: "custom", message: `Unknown value “${item}”; use ${values.join(", ")}.` });
      }
      return list;
    });

const usersQuery = z.object({
  environment: z.string().optional().describe("Environment key: only users who may enter it, with their groups there"),
  q: z.string().max(200).optional().describe("Substring of name or email"),
  status: csv(USER_STATUSES).describe("Comma-separated statuses"),
  source: csv(USER_SOURCES).describe("Comma-separated sources"),
  group: z.uuid().optional().describe("Only members of this group"),
  sort: z.enum(USER_SORTS).optional(),
  dir: z.enum(["asc", "desc"]).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(500).optional().describe("nextCursor of the previous page"),
  before: z.string().max(500).optional().describe("prevCursor of the next page"),
});

const groupsQuery = z.object({
  environment: z.string().describe("Environment key"),
  q: z.string().max(120).optional(),
  limit: z.coerce.number().int().min(1).max(200).optional(),
  cursor: z.string().max(2048).optional(),
});

const consoleMemberOut = z.object({
  id: z.uuid(),
  email: z.string(),
  name: z.string(),
  role: z.enum(CONSOLE_ROLES),
  status: z.enum(CONSOLE_MEMBER_STATUSES),
  environments: z.array(z.string()).describe("An environment admin's environments (keys); empty for the other roles"),
  lastSignInAt: z.string().nullable(),
  activeSessions: z.number().int().describe("Open console sessions"),
  secondFactors: z.array(z.string()).describe("The member's second factors (kinds); empty when none"),
  invitationExpiresAt: z.string().nullable().describe("When the pending invitation link expires (invited members)"),
  singleSignOn: z.string().nullable().describe("The identity provider the member signs in through (console SSO: the role follows its groups); null for password members"),
  createdAt: z.string(),
});
const memberChange = z.object({ changed: z.boolean(), sessionsEnded: z.number().int() });

const createGroupBody = createGroupInput.omit({ environmentId: true }).extend({ environment: z.string().describe("Environment key") });

// ---- Helpers ----------------------------------------------------------------

/** A user as the API shows it; `visible`: the environments a token limited to some may read (their access and groups only). */
async function userBody(id: string, visible: readonly string[] | null = null) {
  const detail = await getUserDetail(id);
  if (!detail) throw new NotFoundError("User not found.");
  const keyOf = new Map(detail.access.map((a) => [a.environmentId, a.key]));
  const shown = (environmentId: string) => !visible || visible.includes(environmentId);
  const u = detail.user;
  return {
    environmentIds: detail.access.filter((a) => a.granted).map((a) => a.environmentId),
    version: u.version,
    body: {
      id: u.id,
      email: u.email,
      name: u.name,
      status: u.status,
      source: u.source,
      version: u.version,
      environments: detail.access.filter((a) => a.granted && shown(a.environmentId)).map((a) => ({ key: a.key, source: a.source ?? "manual" })),
      groups: detail.groups.filter((g) => shown(g.environmentId)).map((g) => ({ environment: keyOf.get(g.environmentId) ?? "", id: g.groupId, name: g.name, source: g.source })),
      lastSignInAt: u.lastSignInAt?.toISOString() ?? null,
      createdAt: u.createdAt.toISOString(),
      updatedAt: u.updatedAt.toISOString(),
    },
  };
}

/** The environments a token limited to some may read; null for any other caller. */
const visibleEnvironments = (ctx: DomainContext) => (ctx.actor.type === "api_token" ? ctx.actor.environmentIds : null);

/** Rows of a users list as the caller may read them: a token limited to some environments sees each user's access there only. */
async function visibleUserRows<R extends { environments: string[] }>(ctx: DomainContext, rows: R[]): Promise<R[]> {
  const allowed = visibleEnvironments(ctx);
  if (!allowed) return rows;
  const keys = new Set((await listEnvironments()).filter((e) => allowed.includes(e.id)).map((e) => e.key));
  return rows.map((r) => ({ ...r, environments: r.environments.filter((k) => keys.has(k)) }));
}

/** Reads a user the caller may see: a scoped token sees users of its environments only, and of them only their access and groups there. */
async function readableUser(ctx: DomainContext, id: string) {
  const allowed = visibleEnvironments(ctx);
  const user = await userBody(id, allowed);
  if (allowed && !user.environmentIds.some((e) => allowed.includes(e))) throw new ForbiddenError(OUTSIDE_SCOPE.read);
  return user;
}

async function groupIn(id: string) {
  const [row] = await getDb()
    .select({ group: groups, environment: environments.key })
    .from(groups)
    .innerJoin(environments, eq(environments.id, groups.environmentId))
    .where(eq(groups.id, id));
  if (!row) throw new NotFoundError("Group not found.");
  const g = row.group;
  return {
    environmentId: g.environmentId,
    body: { id: g.id, environment: row.environment, name: g.name, description: g.description, source: g.source, memberCount: g.memberCount, version: g.version },
  };
}

function memberBody(m: ConsoleMemberRow): z.output<typeof consoleMemberOut> {
  return {
    id: m.id,
    email: m.email,
    name: m.name,
    role: m.role,
    status: m.status,
    environments: m.environments.map((e) => e.key),
    lastSignInAt: m.lastSignInAt?.toISOString() ?? null,
    activeSessions: m.activeSessions,
    secondFactors: m.secondFactors,
    invitationExpiresAt: m.invitationExpiresAt?.toISOString() ?? null,
    singleSignOn: m.singleSignOn,
    createdAt: m.createdAt.toISOString(),
  };
}

/** Console members are account-wide: a token limited to environments does not see them. */
function requireAccountWideToken(ctx: DomainContext) {
  if (ctx.actor.type === "api_token" && ctx.actor.environmentIds) {
    throw new ForbiddenError("This API token is scoped to environments; console members are account-wide.");
  }
}

const reviewsQuery = z.object({ environment: z.string().min(1, "Name the environment (its key).").max(64) });
const createReviewBody = z.object({
  environment: z.string(),
  name: z.string(),
  scope: z.enum(REVIEW_SCOPES),
  scopeIds: z.array(z.uuid()).optional(),
  reviewerIds: z.array(z.uuid()),
  dueAt: z.string(),
  recurrenceMonths: z.number().int().min(1).max(12).nullable().optional(),
});
const reviewOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  name: z.string(),
  scope: z.enum(REVIEW_SCOPES),
  scopeIds: z.array(z.uuid()),
  status: z.string(),
  dueAt: z.string(),
  overdue: z.boolean(),
  recurrenceMonths: z.number().int().nullable(),
  previousId: z.uuid().nullable(),
  nextId: z.uuid().nullable(),
  total: z.number().int(),
  decided: z.number().int(),
  revoke: z.number().int(),
  reviewers: z.array(z.object({ id: z.uuid(), name: z.string(), email: z.string() })),
  createdBy: z.string(),
  createdAt: z.string(),
  closedAt: z.string().nullable(),
  closedBy: z.string().nullable(),
  reportSha256: z.string().nullable(),
});
const reviewItemOut = z.object({
  id: z.uuid(),
  kind: z.string(),
  userId: z.uuid().nullable(),
  userEmail: z.string().nullable(),
  groupId: z.uuid().nullable(),
  groupName: z.string().nullable(),
  resourceId: z.uuid().nullable(),
  resourceName: z.string().nullable(),
  feature: z.string().nullable(),
  decision: z.string().nullable(),
  comment: z.string().nullable(),
  decidedBy: z.string().nullable(),
  outcome: z.string().nullable(),
  exclusion: z.object({ source: z.string(), liftedAt: z.string().nullable() }).nullable(),
});

function reviewBody(r: ReviewSummary, environment: string): z.output<typeof reviewOut> {
  return {
    id: r.id,
    environment,
    name: r.name,
    scope: r.scope,
    scopeIds: r.scopeIds,
    status: r.status,
    dueAt: r.dueAt.toISOString(),
    overdue: r.overdue,
    recurrenceMonths: r.recurrenceMonths,
    previousId: r.previousId,
    nextId: r.nextId,
    total: r.total,
    decided: r.decided,
    revoke: r.revoke,
    reviewers: r.reviewers,
    createdBy: r.createdBy,
    createdAt: r.createdAt.toISOString(),
    closedAt: r.closedAt?.toISOString() ?? null,
    closedBy: r.closedBy,
    reportSha256: r.reportSha256,
  };
}

/** A review by id in whatever environment it is (the caller authorizes on that environment). */
async function reviewById(reviewId: string) {
  const [row] = await getDb().select({ environmentId: accessReviews.environmentId, key: environments.key }).from(accessReviews).innerJoin(environments, eq(environments.id, accessReviews.environmentId)).where(eq(accessReviews.id, reviewId));
  const found = row ? await getAccessReview(row.environmentId, reviewId) : null;
  if (!row || !found) throw new NotFoundError("No such access review.");
  return { ...found, environmentKey: row.key };
}

// ---- Endpoints --------------------------------------------------------------

const authzCheckBody = z
  .object({
    token: z.string().min(1).max(16_384).optional().describe("The end user's access token (verified: signature, iss, aud, typ, exp, env)"),
    subject: z.string().min(1).max(320).optional().describe("Or the user's id or email"),
    environment: z.string().min(1).max(64).describe("Environment key, e.g. prod"),
    feature: z.enum(FEATURES),
    resource: uuidSchema.nullable().optional().describe("One resource; omitted or null: the feature as a whole"),
    resources: z.array(uuidSchema.nullable()).min(1).max(100, "At most 100 resources at once.").optional().describe("A batch of resources"),
    tool: z.enum(MCP_TOOLS).optional().describe("For an MCP server: one of its tools (a grant on that tool allows it, as does one on the whole server)"),
  })
  .refine((b) => b.tool === undefined || b.feature === "mcp", { message: "A tool is decided only for an MCP server.", path: ["tool"] })
  .refine((b) => (b.token === undefined) !== (b.subject === undefined), { message: "Send either token or subject.", path: ["token"] })
  .refine((b) => b.resource === undefined || b.resources === undefined, { message: "Send resource or resources, not both.", path: ["resources"] });
const authzDecision = z.object({
  resource: z.uuid().nullable(),
  allow: z.boolean(),
  reason: z.enum(Object.keys(REASONS) as [keyof typeof REASONS, ...(keyof typeof REASONS)[]]),
  message: z.string(),
  grant: z.object({ id: z.uuid(), feature: z.enum(FEATURES), resourceId: z.uuid().nullable(), tool: z.enum(MCP_TOOLS).optional() }).nullable(),
  group: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  path: z.array(z.string()),
});
const accessRequestOut = z.object({
  id: z.uuid(),
  environment: z.string(),
  user: z.object({ id: z.uuid(), email: z.string(), name: z.string() }),
  feature: z.enum(FEATURES),
  resource: z.object({ id: z.uuid(), name: z.string() }),
  tool: z.enum(MCP_TOOLS).nullable(),
  reason: z.string(),
  status: z.enum(ACCESS_REQUEST_STATUSES),
  decidedBy: z.string().nullable(),
  decidedAt: z.iso.datetime().nullable(),
  comment: z.string().nullable(),
  grantId: z.uuid().nullable(),
  createdAt: z.iso.datetime(),
});
const accessRequestsQuery = z.object({
  environment: z.string().min(1).max(64).describe("Environment key, e.g. prod"),
  status: z.enum(ACCESS_REQUEST_STATUSES).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
});
const accessRequestDecisionBody = z.object({
  decision: z.enum(["approve", "deny"]),
  comment: z.string().max(1000).optional().describe("Required to deny: the user sees it"),
});
function accessRequestBody(r: AccessRequestView, environment: string) {
  return {
    id: r.id,
    environment,
    user: { id: r.userId, email: r.userEmail, name: r.userName },
    feature: r.feature,
    resource: { id: r.resourceId, name: r.resourceName },
    tool: r.tool,
    reason: r.reason,
    status: r.status,
    decidedBy: r.decidedBy,
    decidedAt: r.decidedAt?.toISOString() ?? null,
    comment: r.comment,
    grantId: r.grantId,
    createdAt: r.createdAt.toISOString(),
  };
}

const authzCheckResult = z.object({ subject: z.unknown(), environment: z.string(), feature: z.enum(FEATURES), decisions: z.array(authzDecision) });

export const ENDPOINTS: Endpoint[] = [
  {
    method: "GET",
    path: "/environments",
    summary: "List environments",
    tag: "Environments",
    permission: ["environments", "read"],
    response: z.object({ data: z.array(environmentOut) }),
    async handle() {
      const rows = await listEnvironments();
      return { body: { data: rows.map((e) => ({ id: e.id, key: e.key, name: e.name, description: e.description })) } };
    },
  },
  {
    method: "GET",
    path: "/users",
    summary: "List users (filtered, sorted, cursor-paginated)",
    tag: "Users",
    permission: ["users", "read"],
    query: usersQuery,
    response: page(userListItem),
    async handle({ ctx, query }) {
      const q = query as z.output<typeof usersQuery>;
      const env = q.environment ? await environmentByKey(q.environment) : undefined;
      requireScopedRead(ctx, "users", env?.id);
      // Filtering by a group reads its membership: the group's environment must be readable too (as
      // /groups/{id}/members), or a token of DEV would learn who of DEV is in a PROD group.
      const [filterGroup] = q.group ? await getDb().select({ environmentId: groups.environmentId }).from(groups).where(eq(groups.id, q.group)) : [];
      if (filterGroup) authorize(ctx.actor, "memberships", "read", [filterGroup.environmentId]);
      const list = await listUsers({
        environmentId: env?.id,
        scope: env ? "env" : "all",
        q: q.q ?? "",
        status: q.status,
        source: q.source,
        group: q.group ?? "",
        sort: q.sort ?? "created",
        dir: q.dir ?? "desc",
        size: q.limit ?? 50,
        after: q.cursor ?? "",
        before: q.before ?? "",
      });
      return { body: { data: await visibleUserRows(ctx, list.rows), nextCursor: list.next, prevCursor: list.prev, total: list.total } };
    },
  },
  {
    method: "POST",
    path: "/users",
    summary: "Create a user (with environments and groups)",
    tag: "Users",
    permission: ["users", "write"],
    body: createUserInput,
    response: userOut,
    status: 201,
    async handle({ ctx, body }) {
      const user = await createUser(ctx, body);
      const out = await userBody(user.id);
      return { status: 201, body: out.body, headers: { etag: etag(out.version), location: `/api/v1/users/${user.id}` } };
    },
  },
  {
    method: "GET",
    path: "/users/{id}",
    summary: "Get a user with environments and groups",
    tag: "Users",
    permission: ["users", "read"],
    response: userOut,
    async handle({ ctx, params }) {
      const user = await readableUser(ctx, id(params));
      return { body: user.body, headers: { etag: etag(user.version) } };
    },
  },
  {
    method: "PATCH",
    path: "/users/{id}",
    summary: "Change a user's name or email (If-Match for optimistic concurrency)",
    tag: "Users",
    permission: ["users", "write"],
    body: z.object({ name: z.string().optional(), email: z.string().optional() }),
    response: userOut,
    async handle({ ctx, params, body, headers }) {
      const expectedVersion = ifMatchVersion(headers);
      const fields = (body ?? {}) as Record<string, unknown>;
      await updateUser(ctx, id(params), { name: fields.name, email: fields.email, expectedVersion });
      const out = await userBody(id(params));
      return { body: out.body, headers: { etag: etag(out.version) } };
    },
  },
  {
    method: "DELETE",
    path: "/users/{id}",
    summary: "Delete a user",
    tag: "Users",
    permission: ["users", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await deleteUser(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: "/users/{id}/suspend",
    summary: "Suspend a user (ends every session)",
    tag: "Users",
    permission: ["users", "write"],
    response: userOut,
    async handle({ ctx, params }) {
      await suspendUser(ctx, id(params));
      return { body: (await userBody(id(params))).body };
    },
  },
  {
    method: "POST",
    path: "/users/{id}/reactivate",
    summary: "Reactivate a suspended user",
    tag: "Users",
    permission: ["users", "write"],
    response: userOut,
    async handle({ ctx, params }) {
      await reactivateUser(ctx, id(params));
      return { body: (await userBody(id(params))).body };
    },
  },
  {
    method: "PUT",
    path: "/users/{id}/environments/{environment}",
    summary: "Grant an environment (the user joins its Everyone group)",
    tag: "Users",
    permission: ["environment_access", "write"],
    response: z.object({ changed: z.boolean() }),
    async handle({ ctx, params }) {
      const env = await environmentByKey(params.environment!);
      return { body: { changed: await grantEnvironment(ctx, { userId: id(params), environmentId: env.id }) } };
    },
  },
  {
    method: "DELETE",
    path: "/users/{id}/environments/{environment}",
    summary: "Revoke an environment (the user leaves its groups; sessions there end)",
    tag: "Users",
    permission: ["environment_access", "write"],
    response: z.object({ changed: z.boolean() }),
    async handle({ ctx, params }) {
      const env = await environmentByKey(params.environment!);
      return { body: { changed: await revokeEnvironment(ctx, { userId: id(params), environmentId: env.id }) } };
    },
  },
  {
    method: "GET",
    path: "/groups",
    summary: "List an environment's groups by name",
    tag: "Groups",
    permission: ["groups", "read"],
    query: groupsQuery,
    response: page(groupOut),
    async handle({ ctx, query }) {
      const q = query as z.output<typeof groupsQuery>;
      const env = await environmentByKey(q.environment);
      requireScopedRead(ctx, "groups", env.id);
      const result = await listGroupsPage({ environmentId: env.id, q: q.q ?? "", size: q.limit ?? 50, after: q.cursor ?? "" });
      return { body: { data: result.rows.map((g) => ({ ...g, environment: env.key })), nextCursor: result.next } };
    },
  },
  {
    method: "POST",
    path: "/groups",
    summary: "Create a group in an environment",
    tag: "Groups",
    permission: ["groups", "write"],
    body: createGroupBody,
    response: groupOut,
    status: 201,
    async handle({ ctx, body }) {
      const { env, rest } = await inEnvironment(body);
      const group = await createGroup(ctx, { environmentId: env.id, name: rest.name, description: rest.description });
      return { status: 201, body: (await groupIn(group.id)).body, headers: { location: `/api/v1/groups/${group.id}` } };
    },
  },
  {
    method: "GET",
    path: "/groups/{id}",
    summary: "Get a group",
    tag: "Groups",
    permission: ["groups", "read"],
    response: groupOut,
    async handle({ ctx, params }) {
      const group = await groupIn(id(params));
      authorize(ctx.actor, "groups", "read", [group.environmentId]);
      return { body: group.body, headers: { etag: etag(group.body.version) } };
    },
  },
  {
    method: "PATCH",
    path: "/groups/{id}",
    summary: "Rename a group or change its description (If-Match for optimistic concurrency, 412 when stale)",
    tag: "Groups",
    permission: ["groups", "write"],
    body: updateGroupInput,
    response: groupOut,
    async handle({ ctx, params, body, headers }) {
      const groupId = id(params);
      await updateGroup(ctx, groupId, body, { expectedVersion: ifMatchVersion(headers) });
      const group = await groupIn(groupId);
      return { body: group.body, headers: { etag: etag(group.body.version) } };
    },
  },
  {
    method: "DELETE",
    path: "/groups/{id}",
    summary: "Delete a group (not Everyone)",
    tag: "Groups",
    permission: ["groups", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await deleteGroup(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: "/groups/{id}/members",
    summary: "List a group's members (same filters and cursors as /users)",
    tag: "Groups",
    permission: ["memberships", "read"],
    query: usersQuery.omit({ environment: true, group: true }),
    response: page(userListItem),
    async handle({ ctx, params, query }) {
      const group = await groupIn(id(params));
      authorize(ctx.actor, "memberships", "read", [group.environmentId]);
      const q = query as z.output<typeof usersQuery>;
      const list = await listUsers({
        environmentId: group.environmentId,
        group: group.body.id,
        q: q.q ?? "",
        status: q.status,
        source: q.source,
        sort: q.sort ?? "name",
        dir: q.dir ?? "asc",
        size: q.limit ?? 50,
        after: q.cursor ?? "",
        before: q.before ?? "",
      });
      // As /users: a token limited to some environments reads the members' access there only.
      return { body: { data: await visibleUserRows(ctx, list.rows), nextCursor: list.next, prevCursor: list.prev, total: list.total } };
    },
  },
  {
    method: "POST",
    path: "/groups/{id}/members",
    summary: "Add members (bulk); per-user result",
    tag: "Groups",
    permission: ["memberships", "write"],
    body: membersBody,
    response: membersResult,
    async handle({ ctx, params, body }) {
      const r = await addMembers(ctx, { groupId: id(params), userIds: (body as { userIds?: unknown })?.userIds });
      return { body: r };
    },
  },
  {
    method: "POST",
    path: "/groups/{id}/members/remove",
    summary: "Remove members (bulk); per-user result",
    tag: "Groups",
    permission: ["memberships", "write"],
    body: membersBody,
    response: membersResult,
    async handle({ ctx, params, body }) {
      const r = await removeMembers(ctx, { groupId: id(params), userIds: (body as { userIds?: unknown })?.userIds });
      return { body: r };
    },
  },
  {
    method: "GET",
    path: "/console-members",
    summary: "List console members (owners first) with last sign-in, second factors, sessions and pending invitations",
    tag: "Console members",
    permission: ["console_members", "read"],
    response: z.object({ data: z.array(consoleMemberOut) }),
    async handle({ ctx }) {
      requireAccountWideToken(ctx);
      return { body: { data: (await listConsoleMembers(ctx.actor)).map(memberBody) } };
    },
  },
  {
    method: "POST",
    path: "/console-members",
    summary: "Invite a console member: mails a one-time link (7 days) that sets their password. Only owners invite owners; an API token cannot",
    tag: "Console members",
    permission: ["console_members", "write"],
    body: inviteConsoleMemberInput,
    response: consoleMemberOut,
    status: 201,
    async handle({ ctx, body }) {
      const { member } = await inviteConsoleMember(ctx, body);
      return { status: 201, body: memberBody(await getConsoleMember(ctx.actor, member.id)), headers: { location: `/api/v1/console-members/${member.id}` } };
    },
  },
  {
    method: "GET",
    path: "/console-members/{id}",
    summary: "Get a console member",
    tag: "Console members",
    permission: ["console_members", "read"],
    response: consoleMemberOut,
    async handle({ ctx, params }) {
      requireAccountWideToken(ctx);
      const body = memberBody(await getConsoleMember(ctx.actor, id(params)));
      return { body, headers: { etag: bodyEtag(body) } };
    },
  },
  {
    method: "PATCH",
    path: "/console-members/{id}",
    summary: "Change a member's role and environments (ends their sessions; an invited member gets a new link). The last active owner cannot be demoted",
    tag: "Console members",
    permission: ["console_members", "write"],
    body: changeConsoleMemberRoleInput,
    response: consoleMemberOut.extend({ sessionsEnded: z.number().int() }),
    async handle({ ctx, params, body, headers }) {
      const memberId = id(params);
      const locked = async (tx: Tx) => {
        const [row] = await tx.select({ id: consoleMembers.id }).from(consoleMembers).where(eq(consoleMembers.id, memberId)).for("update");
        if (!row) throw new NotFoundError("Console member not found.");
        return bodyEtag(memberBody(await getConsoleMember(ctx.actor, memberId)));
      };
      const result = await withIfMatch(headers, {
        authorize: () => checkConsoleMemberRoleChange(ctx.actor, memberId, body),
        lock: locked,
        change: () => changeConsoleMemberRole(ctx, memberId, body),
      });
      const member = memberBody(await getConsoleMember(ctx.actor, memberId));
      return { body: { ...member, sessionsEnded: result.sessionsEnded }, headers: { etag: bodyEtag(member) } };
    },
  },
  {
    method: "POST",
    path: "/console-members/{id}/suspend",
    summary: "Suspend a member (ends their sessions and revokes their reviewer tokens). The last active owner cannot be suspended",
    tag: "Console members",
    permission: ["console_members", "write"],
    response: memberChange,
    async handle({ ctx, params }) {
      return { body: await suspendConsoleMember(ctx, id(params)) };
    },
  },
  {
    method: "POST",
    path: "/console-members/{id}/reactivate",
    summary: "Reactivate a suspended member",
    tag: "Console members",
    permission: ["console_members", "write"],
    response: memberChange,
    async handle({ ctx, params }) {
      return { body: { ...(await reactivateConsoleMember(ctx, id(params))), sessionsEnded: 0 } };
    },
  },
  {
    method: "POST",
    path: "/console-members/{id}/invitation",
    summary: "Send an invited member a new invitation link (the earlier one stops working)",
    tag: "Console members",
    permission: ["console_members", "write"],
    response: z.object({ invitationExpiresAt: z.string() }),
    async handle({ ctx, params }) {
      const { expiresAt } = await resendConsoleInvitation(ctx, id(params));
      return { body: { invitationExpiresAt: expiresAt.toISOString() } };
    },
  },
  {
    method: "DELETE",
    path: "/console-members/{id}",
    summary: "Remove a member or a pending invitation (ends their sessions and revokes their reviewer tokens). The last active owner cannot be removed",
    tag: "Console members",
    permission: ["console_members", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await removeConsoleMember(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: "/access-reviews",
    summary: "List an environment's access reviews (campaigns), newest first, with progress and recurrence",
    tag: "Access reviews",
    permission: ["access_reviews", "read"],
    query: reviewsQuery,
    response: z.object({ data: z.array(reviewOut) }),
    async handle({ ctx, query }) {
      const env = await environmentByKey((query as z.output<typeof reviewsQuery>).environment);
      authorize(ctx.actor, "access_reviews", "read", [env.id]);
      return { body: { data: (await listAccessReviews(env.id)).map((r) => reviewBody(r, env.key)) } };
    },
  },
  {
    method: "GET",
    path: "/access-requests",
    summary: "List an environment's access requests (open ones first, newest first)",
    tag: "Access requests",
    permission: ["access_requests", "read"],
    query: accessRequestsQuery,
    response: z.object({ data: z.array(accessRequestOut) }),
    async handle({ ctx, query }) {
      const q = query as z.output<typeof accessRequestsQuery>;
      const env = await environmentByKey(q.environment);
      const rows = await listAccessRequests(ctx, { environmentId: env.id, status: q.status, limit: q.limit });
      return { body: { data: rows.map((r) => accessRequestBody(r, env.key)) } };
    },
  },
  {
    method: "POST",
    path: "/access-requests/{id}/decision",
    summary: "Approve an open access request (a direct grant on the resource or tool) or deny it (a comment is required: the user sees it)",
    tag: "Access requests",
    permission: ["access_requests", "write"],
    body: accessRequestDecisionBody,
    response: accessRequestOut,
    async handle({ ctx, params, body }) {
      const decided = await decideAccessRequest(ctx, { ...(body as object), requestId: id(params) });
      const view = (await getAccessRequest(ctx, decided.id))!;
      return { body: accessRequestBody(view, view.environmentKey) };
    },
  },
  {
    method: "POST",
    path: "/access-reviews",
    summary:
      "Start an access review over groups (memberships), resources (grants) or environment_access (who may enter); reviewers are mailed. recurrenceMonths (1–12) repeats it from this definition",
    tag: "Access reviews",
    permission: ["access_reviews", "write"],
    body: createReviewBody,
    response: reviewOut,
    status: 201,
    async handle({ ctx, body }) {
      const { env, rest } = await inEnvironment(body);
      const review = await createAccessReview(ctx, { ...rest, environmentId: env.id });
      const [summary] = await listAccessReviews(env.id, undefined, review.id);
      return { status: 201, body: reviewBody(summary!, env.key), headers: { location: `/api/v1/access-reviews/${review.id}` } };
    },
  },
  {
    method: "GET",
    path: "/access-reviews/{id}",
    summary: "Get an access review with its items, decisions, outcomes and sync exclusions",
    tag: "Access reviews",
    permission: ["access_reviews", "read"],
    response: reviewOut.extend({ items: z.array(reviewItemOut) }),
    async handle({ ctx, params }) {
      const found = await reviewById(id(params));
      authorize(ctx.actor, "access_reviews", "read", [found.review.environmentId]);
      return {
        body: {
          ...reviewBody(found.review, found.environmentKey),
          items: found.items.map((i) => ({
            id: i.id,
            kind: i.kind,
            userId: i.userId,
            userEmail: i.userEmail,
            groupId: i.groupId,
            groupName: i.groupName,
            resourceId: i.resourceId,
            resourceName: i.resourceName,
            feature: i.feature,
            decision: i.decision,
            comment: i.comment,
            decidedBy: i.decidedBy,
            outcome: i.outcome,
            exclusion: found.exclusions.get(i.id) ? { source: found.exclusions.get(i.id)!.source, liftedAt: found.exclusions.get(i.id)!.liftedAt?.toISOString() ?? null } : null,
          })),
        },
      };
    },
  },
  {
    method: "POST",
    path: "/access-reviews/{id}/decisions",
    summary: "Keep or revoke review items, as one of the review's assigned reviewers (a reviewer-scoped token acts for the member who made it); a revoke needs a comment. Changes no access until the review closes",
    tag: "Access reviews",
    permission: ["review_decisions", "write"],
    body: z.object({ itemIds: z.array(z.uuid()), decision: z.enum(REVIEW_DECISIONS), comment: z.string().optional() }),
    response: z.object({ decided: z.number().int() }),
    async handle({ ctx, params, body }) {
      return { body: await decideReviewItems(ctx, { ...((body ?? {}) as object), reviewId: id(params) }) };
    },
  },
  {
    method: "POST",
    path: "/access-reviews/{id}/close",
    summary: "Close an access review: applies its revocations (revoked directory- or IdP-owned memberships and access become sync exclusions) and signs off the report",
    tag: "Access reviews",
    permission: ["access_reviews", "write"],
    response: z.object({ revoked: z.number().int(), alreadyGone: z.number().int(), kept: z.number().int(), undecided: z.number().int(), excluded: z.number().int(), sha256: z.string() }),
    async handle({ ctx, params }) {
      return { body: await closeAccessReview(ctx, id(params)) };
    },
  },
  {
    method: "POST",
    path: "/membership-exclusions/{id}/lift",
    summary: "Lift a sync exclusion: the directory's or IdP's next sync may add the membership (or access) back",
    tag: "Access reviews",
    permission: ["memberships", "write"],
    response: z.object({ lifted: z.literal(true) }),
    async handle({ ctx, params }) {
      await liftExclusion(ctx, id(params));
      return { body: { lifted: true } };
    },
  },
  {
    method: "POST",
    path: "/authz/check",
    summary: "Decide: may this user (by access token or subject) use this feature or these resources?",
    tag: "Authorization",
    asks: true,
    permission: ["decisions", "read"],
    body: authzCheckBody,
    response: authzCheckResult,
    async handle({ ctx, body }) {
      const input = parseInput(authzCheckBody, body);
      const env = await environmentByKey(input.environment);
      authorize(ctx.actor, "decisions", "read", [env.id]);
      const resources = input.resources ?? [input.resource ?? null];
      if (input.token) {
        const audience = [input.feature, ...(input.feature === "mcp" ? resources.filter((r): r is string => r !== null).map(mcpServerUrl) : [])];
        const resourceAudience = input.feature === "mcp" ? mcpServerUrl : undefined;
        const { claims, decisions } = await decideWithToken(input.token, { environment: env, feature: input.feature, resources, audience, resourceAudience, tool: input.tool });
        // A key set that could not be read is ours to answer (503, try again). A token that fails
        // verification is a 401 with its reason, as at every door that takes a token; the problem's
        // `code` is the token's reason (never `invalid_token`/`missing_token`, which name the
        // caller's own API token) and the denials ride along. A verified token whose user may not
        // use the feature is a decision: 200, allow false.
        if (decisions[0]?.reason === "keys_unavailable") throw new DomainError("keys_unavailable", 503, REASONS.keys_unavailable);
        if (!claims) {
          const { reason, message } = decisions[0]!;
          return {
            status: 401,
            headers: { "content-type": "application/problem+json", "www-authenticate": `Bearer realm="access-token", error="invalid_token"` },
            body: { type: `urn:iam-console:problem:${reason}`, title: "Unauthorized", status: 401, detail: `The access token to decide on is not valid: ${message}`, code: reason, requestId: ctx.requestId, decisions },
          };
        }
        return { body: { subject: { id: claims.sub, email: claims.email }, environment: env.key, feature: input.feature, decisions } };
      }
      const subject = input.subject!;
      const user = z.uuid().safeParse(subject).success ? { id: subject } : { email: subject };
      const decisions = await decide({ environment: env, user, feature: input.feature, resources, ...(input.tool ? { tool: input.tool } : {}) });
      return { body: { subject: user, environment: env.key, feature: input.feature, decisions } };
    },
  },
  ...CONFIG_ENDPOINTS,
  ...SSO_ENDPOINTS,
];
