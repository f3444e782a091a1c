import "server-only";
import { decisionCache } from "@/lib/access/decision-cache";
import { insertGroupRows } from "@/lib/groups/group-rows";
import { asc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { environmentAuth, environments, groups, identityProviders, type Environment } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput } from "@/lib/validation";

export const EVERYONE_GROUP_NAME = "Everyone";

export type EnvironmentRef = Pick<Environment, "id" | "key" | "name" | "position">;

/** users.environment_keys for these environments: keys by position, comma-separated (what the trigger computes). */
export function environmentKeysOf(envs: readonly { key: string; position: number }[]): string {
  return [...envs]
    .sort((a, b) => a.position - b.position || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    .map((e) => e.key)
    .join(",");
}

export async function listEnvironments(executor: Executor = getDb()): Promise<Environment[]> {
  return executor.select().from(environments).orderBy(asc(environments.position), asc(environments.name));
}

export async function findEnvironmentByKey(key: string, executor?: Executor): Promise<Environment | undefined> {
  if (executor) return (await executor.select().from(environments).where(eq(environments.key, key)).limit(1))[0];
  // Every request of the end-user pages and the decision endpoint starts here: from memory when the
  // decision cache is live (a change to environments flushes it), else a prepared statement.
  const read = async () =>
    (await getDb().select().from(environments).where(eq(environments.key, sql.placeholder("key"))).limit(1).prepare("find_environment_by_key").execute({ key }))[0];
  const cache = decisionCache();
  if (cache) {
    const cached = await cache.lookup("environment", key, () => [], read);
    if (cached !== null) return cached;
  }
  return read();
}

/** Loads the environments by id, failing with a field error naming the unknown ones. */
export async function requireEnvironments(executor: Executor, ids: readonly string[], field = "environmentIds"): Promise<EnvironmentRef[]> {
  if (ids.length === 0) return [];
  const rows = await executor
    .select({ id: environments.id, key: environments.key, name: environments.name, position: environments.position })
    .from(environments)
    .where(inArray(environments.id, [...ids]));
  if (rows.length !== new Set(ids).size) {
    throw new ValidationError("Unknown environment.", { [field]: ["One or more environments do not exist."] });
  }
  return rows;
}

export async function requireEnvironment(executor: Executor, id: string): Promise<EnvironmentRef> {
  const [row] = await executor
    .select({ id: environments.id, key: environments.key, name: environments.name, position: environments.position })
    .from(environments)
    .where(eq(environments.id, id));
  if (!row) throw new NotFoundError("Environment not found.");
  return row;
}

/** The Everyone group of each environment, keyed by environment id. */
export async function everyoneGroups(executor: Executor, environmentIds: readonly string[]): Promise<Map<string, string>> {
  if (environmentIds.length === 0) return new Map();
  const rows = await executor
    .select({ id: groups.id, environmentId: groups.environmentId })
    .from(groups)
    .where(sql`${groups.source} = 'system' and ${groups.environmentId} in ${[...environmentIds]}`);
  return new Map(rows.map((r) => [r.environmentId, r.id]));
}

const RESERVED_KEYS = ["security"];

const createEnvironmentInput = z.object({
  key: z
    .string()
    .trim()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, "Use 1–32 lowercase letters, digits or dashes, starting with a letter.")
    // /console/<key> is the environment's console; these names are the console's own pages.
    .refine((key) => !RESERVED_KEYS.includes(key), "That name is a page of the console (/console/security); choose another key."),
  name: z.string().trim().min(1, "Enter a name.").max(80, "A name has at most 80 characters."),
  description: z.string().trim().max(500).default(""),
  position: z.number().int().min(0).max(1000).optional(),
});

/** Creates an environment with its Everyone group and its authentication settings (password on). */
export async function createEnvironment(ctx: DomainContext, input: unknown): Promise<Environment> {
  const data = parseInput(createEnvironmentInput, input);
  authorize(ctx.actor, "environments", "write");
  return inTransaction(async (tx) => {
    const [{ next } = { next: 0 }] = await tx
      .select({ next: sql<number>`coalesce(max(${environments.position}) + 1, 0)::int` })
      .from(environments);
    const [env] = await tx
      .insert(environments)
      .values({ key: data.key, name: data.name, description: data.description, position: data.position ?? next })
      .returning();
    await insertGroupRows(tx, [
      { environmentId: env!.id, name: EVERYONE_GROUP_NAME, description: "Everyone with access to this environment.", source: "system" },
    ]);
    await tx.insert(environmentAuth).values({ environmentId: env!.id });
    await recordAudit(tx, ctx, {
      action: "environment.create",
      targetType: "environment",
      targetId: env!.id,
      targetLabel: env!.name,
      environment: env!,
      after: { key: env!.key, name: env!.name },
    });
    return env!;
  });
}

const updateEnvironmentInput = z
  .object({
    name: z.string().trim().min(1, "Enter a name.").max(80, "A name has at most 80 characters.").optional(),
    description: z.string().trim().max(500, "A description has at most 500 characters.").optional(),
    // Keys stay: they are in every URL, token issuer and pipeline that names the environment.
    key: z.never({ error: "An environment's key cannot change: it is in its URLs, token issuer and pipelines." }).optional(),
  })
  .refine((v) => v.name !== undefined || v.description !== undefined, { message: "Give a new name or description.", path: ["name"] });

/** Renames an environment or changes its description (its key stays); audited with before and after. */
export async function updateEnvironment(ctx: DomainContext, id: string, input: unknown): Promise<Environment> {
  const data = parseInput(updateEnvironmentInput, input);
  authorize(ctx.actor, "environments", "write");
  return inTransaction(async (tx) => {
    const [before] = await tx.select().from(environments).where(eq(environments.id, id)).for("update");
    if (!before) throw new NotFoundError("Environment not found.");
    const [after] = await tx
      .update(environments)
      .set({ name: data.name ?? before.name, description: data.description ?? before.description })
      .where(eq(environments.id, id))
      .returning();
    await recordAudit(tx, ctx, {
      action: "environment.update",
      targetType: "environment",
      targetId: id,
      targetLabel: after!.name,
      environment: after!,
      before: { name: before.name, description: before.description },
      after: { name: after!.name, description: after!.description },
    });
    return after!;
  });
}

export type EnvironmentSummary = {
  id: string;
  key: string;
  name: string;
  usersWithAccess: number;
  groupCount: number;
  passwordEnabled: boolean;
  ssoEnabled: boolean;
  identityProviderName: string | null;
  /** The IdPs it signs in with beside the main one (by email domain). */
  additionalIdentityProviderIds: string[];
  enforcement: string;
};

/** Per environment: users with access (the Everyone group's count), groups, and how it signs users in. */
export async function environmentSummaries(executor: Executor = getDb()): Promise<EnvironmentSummary[]> {
  return executor
    .select({
      id: environments.id,
      key: environments.key,
      name: environments.name,
      usersWithAccess: sql<number>`coalesce((select member_count from groups g where g.environment_id = ${environments.id} and g.source = 'system'), 0)::int`,
      groupCount: sql<number>`(select count(*) from groups g where g.environment_id = ${environments.id})::int`,
      passwordEnabled: sql<boolean>`coalesce(${environmentAuth.passwordEnabled}, true)`,
      ssoEnabled: sql<boolean>`coalesce(${environmentAuth.ssoEnabled}, false)`,
      identityProviderName: identityProviders.name,
      additionalIdentityProviderIds: sql<string[]>`array(select e.identity_provider_id::text from environment_identity_providers e where e.environment_id = ${environments.id})`,
      enforcement: sql<string>`coalesce(${environmentAuth.enforcement}, 'optional')`,
    })
    .from(environments)
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, environments.id))
    .leftJoin(identityProviders, eq(identityProviders.id, environmentAuth.identityProviderId))
    .orderBy(asc(environments.position));
}

/**
 * Users by status per environment for the overview chart. Exact for small environments; above
 * 100,000 users the split comes from a 1% sample scaled to the exact total, labelled as such.
 */
export async function environmentStatusBreakdown(executor: Executor = getDb()) {
  const summaries = await environmentSummaries(executor);
  const out = [];
  for (const env of summaries) {
    const sampled = env.usersWithAccess > 100_000;
    const rows = await executor.execute<{ status: string; n: number }>(sql`
      select u.status, count(*)::int as n
      from environment_access a join users u ${sampled ? sql`tablesample system (1)` : sql``} on u.id = a.user_id
      where a.environment_id = ${env.id} group by u.status`);
    const counted = rows.reduce((sum, r) => sum + r.n, 0) || 1;
    const scale = sampled ? env.usersWithAccess / counted : 1;
    const of = (...statuses: string[]) => Math.round(rows.filter((r) => statuses.includes(r.status)).reduce((s, r) => s + r.n, 0) * scale);
    out.push({ name: env.name, active: of("active"), invited: of("invited"), suspended: of("suspended", "deprovisioned"), estimated: sampled });
  }
  return out;
}
