import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { ConsoleRole } from "@/db/enums";
import type { Environment } from "@/db/schema";
import { SYSTEM_ACTOR, type DomainContext } from "@/lib/auth/actor";
import { createEnvironment } from "@/lib/environments";

export const systemCtx: DomainContext = { actor: SYSTEM_ACTOR, requestId: "test" };

export function memberCtx(role: ConsoleRole, environmentIds: string[] = []): DomainContext {
  return {
    actor: { type: "console_member", id: crypto.randomUUID(), label: `${role}@example.com`, role, environmentIds },
    requestId: "test",
  };
}

export async function createEnvironments(): Promise<{ dev: Environment; test: Environment; prod: Environment }> {
  const dev = await createEnvironment(systemCtx, { key: "dev", name: "DEV" });
  const test = await createEnvironment(systemCtx, { key: "test", name: "TEST" });
  const prod = await createEnvironment(systemCtx, { key: "prod", name: "PROD" });
  return { dev, test, prod };
}

/** Row count of a table (the tests' way to prove that nothing was written). */
export async function countRows(table: string): Promise<number> {
  const rows = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from ${sql.identifier(table)}`);
  return rows[0]!.n;
}

export async function auditActions(): Promise<string[]> {
  const rows = await getDb().execute<{ action: string }>(sql`select action from audit_events order by id`);
  return rows.map((r) => r.action);
}

/**
 * `count` users (`<prefix><i>@example.com`) written in SQL, each with access to `environmentId`:
 * enough rows for a background job to run in several batches.
 */
export async function bulkUsersIn(environmentId: string, prefix: string, count: number): Promise<void> {
  const { insertAccessRows } = await import("@/lib/groups/membership-rows");
  const rows = await getDb().execute<{ id: string }>(
    sql`insert into users (email, name) select ${prefix} || i || '@example.com', ${prefix} || ' ' || i from generate_series(1, ${count}::int) i returning id`,
  );
  await insertAccessRows(getDb(), rows.map((r) => r.id), environmentId, "manual");
}

/** A context for a console member who exists in the database (for rows that reference the member). */
export async function realMemberCtx(role: ConsoleRole, environmentIds: string[] = []): Promise<DomainContext> {
  const { createConsoleMember } = await import("@/lib/console-members");
  const email = `${role}-${crypto.randomUUID().slice(0, 8)}@example.com`;
  const member = await createConsoleMember(systemCtx, { email, name: role, role, password: "a long test password", environmentIds });
  return { actor: { type: "console_member", id: member.id, label: email, role, environmentIds }, requestId: "test" };
}

/** A user whose email was proven by a mailed link (as if they had accepted an invitation): linkable by email. */
export async function createVerifiedUser(ctx: DomainContext, input: Parameters<typeof import("@/lib/users").createUser>[1]) {
  const { createUser } = await import("@/lib/users");
  const { markEmailVerifiedRows } = await import("@/lib/users/rows");
  const user = await createUser(ctx, input);
  await markEmailVerifiedRows(getDb(), [user.id], { by: "link", environmentId: null });
  return user;
}

/**
 * Every table's rows as one digest per table (the tests' way to prove that a refused request changed
 * nothing, not even a column of an existing row). Left out: `api_tokens` (a token's use is stamped on
 * it) and `rate_limits` (every request counts, refused or not).
 */
export async function databaseFingerprint(): Promise<Record<string, string>> {
  const tables = await getDb().execute<{ name: string }>(
    sql`select table_name as name from information_schema.tables where table_schema = current_schema() and table_type = 'BASE TABLE' and table_name not in ('api_tokens', 'rate_limits') order by 1`,
  );
  const digests: Record<string, string> = {};
  for (const { name } of tables) {
    const [row] = await getDb().execute<{ digest: string | null }>(sql`select md5(string_agg(t::text, '|' order by t::text)) as digest from ${sql.identifier(name)} t`);
    digests[name] = row!.digest ?? "empty";
  }
  return digests;
}
