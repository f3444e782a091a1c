import "server-only";
import { sql } from "drizzle-orm";
import { getDb, getSql, type Executor } from "@/db/client";
import { z } from "zod";
import { FEATURES, FEATURE_LABELS, type Feature, type McpTool } from "@/db/enums";
import type { DomainContext } from "@/lib/auth/actor";
import { findEnvironmentByKey } from "@/lib/environments";
import { NotFoundError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";
import { REASONS, type Reason } from "@iam-console/runtime";
import { decisionCache, type DecisionCache } from "./decision-cache";

// The access policy, decided live: may this user use this feature (or resource) in this
// environment, and why. The decision endpoint, Explain, the genie endpoint and the MCP servers all
// ask here; the token's `entitlements` claim is computed from the same grants.

export type GrantRef = { id: string; feature: Feature; resourceId: string | null; tool?: McpTool };
export type Decision = {
  resource: string | null;
  allow: boolean;
  reason: Reason;
  message: string;
  grant: GrantRef | null;
  group: { id: string; name: string } | null;
  /** The path in words: user → group → grant, or up to the first step that fails. */
  path: string[];
};

export type GrantRow = { id: string; resource_id: string | null; user_id: string | null; group_id: string | null; group_name: string | null; tool?: McpTool | null };
export type Facts = {
  id: string;
  email: string;
  status: string;
  revoked_before: Date | null;
  has_access: boolean;
  resources: { id: string; name: string }[];
  grants: GrantRow[];
  session_open: boolean | null;
};

const isUuid = (s: string) => uuidSchema.safeParse(s).success;

/**
 * Everything a decision needs in one round trip, as a prepared statement (postgres.js prepares
 * tagged queries; the decision endpoint runs this on every component request): the user, their
 * environment access, the requested resources of the feature, the grants that could apply
 * (direct or through a group, feature-wide or on one of the resources), and optionally whether
 * the token's session is still open. `allGrants`: every grant of the user in the environment and
 * feature, whatever the resource (what the decision cache keeps; `decide` filters the same way).
 */
async function factsOf(environmentId: string, user: { id?: string; email?: string }, feature: Feature, resourceIds: string[], sessionId: string | null, allGrants = false): Promise<Facts | undefined> {
  const sql = getSql();
  const who = user.id ? sql`u.id = ${user.id}::uuid` : sql`lower(u.email) = lower(${user.email ?? ""})`;
  const [row] = await sql<Facts[]>`
    select u.id, u.email, u.status, u.revoked_before,
      exists (select 1 from environment_access ea where ea.user_id = u.id and ea.environment_id = ${environmentId}::uuid) as has_access,
      (select coalesce(json_agg(json_build_object('id', r.id, 'name', r.name)), '[]'::json) from resources r
        where r.environment_id = ${environmentId}::uuid and r.feature = ${feature} and r.id = any(${resourceIds}::uuid[])) as resources,
      (select coalesce(json_agg(json_build_object('id', g.id, 'resource_id', g.resource_id, 'user_id', g.user_id, 'group_id', g.group_id, 'group_name', gr.name, 'tool', g.tool)), '[]'::json)
        from access_grants g left join groups gr on gr.id = g.group_id
        where g.environment_id = ${environmentId}::uuid and g.feature = ${feature}
          and (${allGrants}::boolean or g.resource_id is null or g.resource_id = any(${resourceIds}::uuid[]))
          and (g.user_id = u.id or g.group_id in (
            select gm.group_id from group_members gm where gm.user_id = u.id and gm.environment_id = ${environmentId}::uuid))) as grants,
      (select s.revoked_at is null from sessions s where s.id = ${sessionId}::uuid and s.user_id = u.id) as session_open
    from users u where ${who}`;
  return row;
}

// Preference when several grants allow: the most specific (one tool before the whole resource,
// resource before feature), a direct grant before a group's, then by group name (stable answers).
function best(rows: GrantRow[]): GrantRow | undefined {
  return [...rows].sort(
    (a, b) =>
      Number(!a.tool) - Number(!b.tool) ||
      Number(a.resource_id === null) - Number(b.resource_id === null) ||
      Number(a.user_id === null) - Number(b.user_id === null) ||
      (a.group_name ?? "").localeCompare(b.group_name ?? ""),
  )[0];
}

export type DecideInput = {
  environment: { id: string; key: string };
  user: { id?: string; email?: string };
  feature: Feature;
  resources: (string | null)[];
  /** A token's issue time (seconds): refused when the user signed out everywhere afterwards. */
  tokenIssuedAt?: number;
  /** A token's session: refused when it has ended (signed out, revoked). */
  sessionId?: string;
  /**
   * One tool of an MCP server: a grant on that tool allows it, as does one on the whole server or
   * feature. Without it only those whole grants count, unless `anyTool` (the MCP door's admission:
   * a grant on some tool lets the user in, and each call then decides its own tool).
   */
  tool?: McpTool;
  anyTool?: boolean;
};

/**
 * Where a decision's facts come from: the process's decision cache when it is on and live (the
 * default), a given cache (tests: a second instance), or the database.
 */
export type FactsSource = "default" | "database" | DecisionCache;

/** Decides each requested resource (null: the feature as a whole) for one user, from the live policy. */
export async function decide(input: DecideInput, source: FactsSource = "default"): Promise<Decision[]> {
  const { environment, feature } = input;
  const requested = input.resources.length ? input.resources : [null];
  const ids = [...new Set(requested.filter((r): r is string => r !== null && isUuid(r)))];
  const answer = (resource: string | null, reason: Reason, path: string[], grant: GrantRow | null = null): Decision => ({
    resource,
    allow: reason === "granted",
    reason,
    message: REASONS[reason],
    grant: grant ? { id: grant.id, feature, resourceId: grant.resource_id, ...(grant.tool ? { tool: grant.tool } : {}) } : null,
    group: grant?.group_id ? { id: grant.group_id, name: grant.group_name ?? "" } : null,
    path,
  });
  if (input.user.id !== undefined && !isUuid(input.user.id)) return requested.map((r) => answer(r, "user_not_found", []));
  if (input.sessionId !== undefined && !isUuid(input.sessionId)) return requested.map((r) => answer(r, "token_revoked", []));
  const sessionId = input.sessionId ?? null;
  const cache = source === "default" ? decisionCache() : source === "database" ? undefined : source;
  const cached = cache ? await cache.facts({ environmentId: environment.id, user: input.user, feature, resourceIds: ids, sessionId }, () => factsOf(environment.id, input.user, feature, ids, sessionId, true)) : null;
  const facts = cached !== null ? cached : await factsOf(environment.id, input.user, feature, ids, sessionId);
  if (!facts) return requested.map((r) => answer(r, "user_not_found", []));
  // A user who cannot enter this environment is not this environment's business: the answer names
  // neither their email nor their status (a caller of DEV asking by id learns nothing of a PROD user).
  if (!facts.has_access) return requested.map((r) => answer(r, "no_environment_access", [`the user has no access to ${environment.key}`]));
  const userStep = `user ${facts.email}`;
  if (facts.status !== "active") return requested.map((r) => answer(r, "user_suspended", [`${userStep} (${facts.status})`]));
  const revokedBefore = facts.revoked_before ? new Date(facts.revoked_before).getTime() : null;
  if (input.tokenIssuedAt !== undefined && revokedBefore !== null && input.tokenIssuedAt * 1000 < revokedBefore) return requested.map((r) => answer(r, "token_revoked", [userStep]));
  if (input.sessionId !== undefined && facts.session_open !== true) return requested.map((r) => answer(r, "token_revoked", [userStep, "the token's session has ended"]));
  const names = new Map(facts.resources.map((r) => [r.id, r.name]));
  return requested.map((resource) => {
    if (resource !== null && !names.has(resource)) return answer(resource, "resource_not_found", [userStep]);
    const toolFits = (g: GrantRow) => !g.tool || g.tool === input.tool || input.anyTool === true;
    const grant = best(facts.grants.filter((g) => (g.resource_id === null || g.resource_id === resource) && toolFits(g)));
    const asked = `${resource ? `“${names.get(resource)}”` : FEATURE_LABELS[feature]}${input.tool ? ` (tool ${input.tool})` : ""}`;
    if (!grant) return answer(resource, "no_grant", [userStep, `no grant on ${asked} for the user or their groups`]);
    const target = grant.resource_id ? `grant on “${names.get(grant.resource_id)}”${grant.tool ? ` (tool ${grant.tool})` : ""}` : `grant on all of ${FEATURE_LABELS[feature]}`;
    return answer(resource, "granted", grant.group_id ? [userStep, `member of group ${grant.group_name}`, target] : [userStep, `direct ${target}`], grant);
  });
}

export const explainInput = z.object({
  environment: z.string().trim().min(1, "Choose an environment.").max(64),
  userId: z.uuid("Pick a user."),
  feature: z.enum(FEATURES, { error: "Choose a feature." }),
  resourceId: uuidSchema.nullable().default(null),
});

/** Explain, for whoever may read an environment's grants: one user and one resource (or feature), with the path. */
export async function explain(ctx: DomainContext, input: unknown): Promise<Decision> {
  const data = parseInput(explainInput, input);
  const environment = await findEnvironmentByKey(data.environment);
  if (!environment) throw new NotFoundError(`No environment “${data.environment}”.`);
  authorize(ctx.actor, "access_grants", "read", [environment.id]);
  const [decision] = await decide({ environment, user: { id: data.userId }, feature: data.feature, resources: [data.resourceId] });
  return decision!;
}

export type Entitlements = { groups: string[]; entitlements: Partial<Record<Feature, string[]>> };

/**
 * What goes into a token: the user's group names and, per feature, "*" or the granted resource ids.
 * A grant on one tool of an MCP server is not listed (an offline decision cannot tell tools apart):
 * the MCP server decides each tool call on the live policy.
 */
export async function entitlementsOf(environmentId: string, userId: string, executor?: Executor): Promise<Entitlements> {
  // Inside a caller's transaction, what that transaction sees; else from the decision cache when live.
  const cache = executor ? undefined : decisionCache();
  const cached = cache ? await cache.entitlements(environmentId, userId, () => entitlementsFrom(getDb(), environmentId, userId)) : null;
  return cached ?? entitlementsFrom(executor ?? getDb(), environmentId, userId);
}

async function entitlementsFrom(executor: Executor, environmentId: string, userId: string): Promise<Entitlements> {
  const [groups, grants] = await Promise.all([
    executor.execute<{ name: string }>(sql`
      select g.name from group_members gm join groups g on g.id = gm.group_id
      where gm.user_id = ${userId}::uuid and gm.environment_id = ${environmentId}::uuid order by lower(g.name)`),
    executor.execute<{ feature: Feature; resource_id: string | null }>(sql`
      select distinct g.feature, g.resource_id from access_grants g
      where g.environment_id = ${environmentId}::uuid and g.tool is null and (g.user_id = ${userId}::uuid or g.group_id in (
        select gm.group_id from group_members gm where gm.user_id = ${userId}::uuid and gm.environment_id = ${environmentId}::uuid))`),
  ]);
  const entitlements: Partial<Record<Feature, string[]>> = {};
  for (const g of grants) {
    const list = (entitlements[g.feature] ??= []);
    if (g.resource_id === null) list.splice(0, list.length, "*");
    else if (list[0] !== "*") list.push(g.resource_id);
  }
  for (const list of Object.values(entitlements)) if (list[0] !== "*") list.sort();
  return { groups: groups.map((g) => g.name), entitlements };
}

export type EffectiveUser = { userId: string; email: string; name: string; via: "user" | "group"; groupName: string | null; grantId: string; scope: "resource" | "feature"; tool: McpTool | null };

/**
 * Who can use a resource: active users with access to its environment who hold a grant on it or
 * on its whole feature, directly or through a group, each with the path. Paged by (email, user, grant).
 */
export async function whoCanUse(resource: { id: string; environmentId: string; feature: Feature }, options: { limit?: number; after?: { email: string; grantId: string; userId: string } } = {}, executor: Executor = getDb()): Promise<EffectiveUser[]> {
  const limit = Math.min(options.limit ?? 200, 10_000);
  const rows = await executor.execute<{ user_id: string; email: string; name: string; via: "user" | "group"; group_name: string | null; grant_id: string; resource_id: string | null; tool: McpTool | null }>(sql`
    with grants as (
      select id, resource_id, user_id, group_id, tool from access_grants
      where environment_id = ${resource.environmentId}::uuid and feature = ${resource.feature} and (resource_id is null or resource_id = ${resource.id}::uuid)),
    paths as (
      select g.user_id, 'user' as via, null::text as group_name, g.id as grant_id, g.resource_id, g.tool from grants g where g.user_id is not null
      union all
      select gm.user_id, 'group', gr.name, g.id, g.resource_id, g.tool from grants g
        join groups gr on gr.id = g.group_id join group_members gm on gm.group_id = g.group_id)
    select p.user_id, u.email, u.name, p.via, p.group_name, p.grant_id, p.resource_id, p.tool from paths p
    join users u on u.id = p.user_id and u.status = 'active'
    join environment_access ea on ea.user_id = p.user_id and ea.environment_id = ${resource.environmentId}::uuid
    ${options.after ? sql`where (lower(u.email), p.user_id, p.grant_id) > (lower(${options.after.email}), ${options.after.userId}::uuid, ${options.after.grantId}::uuid)` : sql``}
    order by lower(u.email), p.user_id, p.grant_id limit ${limit}`);
  return rows.map((r) => ({ userId: r.user_id, email: r.email, name: r.name, via: r.via, groupName: r.group_name, grantId: r.grant_id, scope: r.resource_id ? "resource" : "feature", tool: r.tool }));
}

export async function* iterateWhoCanUse(resource: { id: string; environmentId: string; feature: Feature }, chunk = 5000): AsyncGenerator<EffectiveUser[]> {
  let after: { email: string; grantId: string; userId: string } | undefined;
  for (;;) {
    const rows = await whoCanUse(resource, { limit: chunk, after });
    if (rows.length) yield rows;
    if (rows.length < chunk) return;
    const last = rows.at(-1)!;
    after = { email: last.email, userId: last.userId, grantId: last.grantId };
  }
}
