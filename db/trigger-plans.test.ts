import { describe, expect, it } from "vitest";
import postgres from "postgres";
import { sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createGroup } from "@/lib/groups";
import { deleteAccessRows, insertAccessRows, insertMembershipPairs } from "@/lib/groups/membership-rows";

// The triggers that keep counts, the ledger and the environment keys run inside every grant,
// revoke, membership change and SCIM create. Postgres plans their statements once per connection
// and keeps the plan: with the transition table's size of that first run, and the statistics of
// that moment. Neither may decide how a later one-row change reads users or environment_access.
const BIG = ["environment_access", "group_members", "membership_ledger", "users"];

const seqScans = async (tx: Executor) =>
  Object.fromEntries(
    (await tx.execute<{ relname: string; n: number }>(sql`select relname, seq_scan::int as n from pg_stat_xact_user_tables where relname = any(${`{${BIG.join(",")}}`}::text[])`)).map((r) => [r.relname, r.n]),
  );

describe("trigger statements planned once per connection", () => {
  it("after a bulk grant and without statistics, one grant, membership and revoke probe the big tables by index", async () => {
    const env = await createEnvironments();
    const db = getDb();
    const group = await createGroup(systemCtx, { environmentId: env.test.id, name: "Probe group" });
    const keys: string[] = [];
    const [before, after] = await db.transaction(async (tx) => {
      // No statistics, as before autovacuum's first analyze.
      await tx.execute(sql`delete from pg_statistic where starelid = any(${`{${BIG.join(",")}}`}::regclass[])`);
      // The connection's first run of the triggers is a bulk grant of 5,000 users.
      const bulk = await tx.execute<{ id: string }>(sql`insert into users (email, name) select 'bulk' || i || '@example.com', 'Bulk ' || i from generate_series(1, 5000) i returning id`);
      await insertAccessRows(tx, bulk.map((r) => r.id), env.test.id, "manual");
      const [probe] = await tx.execute<{ id: string }>(sql`insert into users (email, name) values ('probe@example.com', 'Probe') returning id`);
      const keysNow = () => tx.execute<{ k: string }>(sql`select environment_keys as k from users where id = ${probe!.id}`).then(([r]) => r!.k);
      // Only what the one-user changes do is counted (this transaction's own counts, not yet flushed).
      const before = await seqScans(tx);
      await insertAccessRows(tx, [probe!.id], env.test.id, "manual");
      keys.push(await keysNow());
      await insertMembershipPairs(tx, [{ groupId: group.id, userId: probe!.id, environmentId: env.test.id }], "manual");
      await deleteAccessRows(tx, [probe!.id], env.test.id);
      keys.push(await keysNow());
      return [before, await seqScans(tx)];
    });
    // The triggers still did their work: the keys were set by the grant and cleared by the revoke.
    expect(keys).toEqual(["test", ""]);
    expect(BIG.filter((t) => (after[t] ?? 0) > (before[t] ?? 0))).toEqual([]);
  });
});

describe("triggers fired by those triggers", () => {
  it("the decision notifications still hash a statement's old rows against its new ones (a nested loop would be quadratic)", async () => {
    const [test] = await getDb().execute<{ id: string }>(sql`select id from environments where key = 'test'`);
    const plans: string[] = [];
    // One connection of its own, showing every nested statement's plan as a notice.
    const client = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: (n) => void plans.push(String(n.message)) });
    try {
      await client.unsafe("load 'auto_explain'");
      await client.unsafe("set auto_explain.log_min_duration = 0; set auto_explain.log_nested_statements = on; set auto_explain.log_level = notice; set client_min_messages = notice");
      await client.begin(async (tx) => {
        await tx`insert into users (email, name) select 'keys' || i || '@example.com', 'Keys ' || i from generate_series(1, 2000) i`;
        // The grant's keys refresh (planned with hash joins off) updates 2,000 users, whose
        // update trigger joins old and new rows.
        await tx`insert into environment_access (user_id, environment_id) select id, ${test!.id}::uuid from users where email like 'keys%'`;
        throw new Error("rolled back");
      }).catch((e: Error) => expect(e.message).toBe("rolled back"));
    } finally {
      await client.end();
    }
    const join = plans.filter((p) => p.includes("FROM new_rows n JOIN old_rows o"));
    expect(join.length).toBeGreaterThan(0);
    for (const plan of join) expect(plan).not.toContain("Nested Loop");
  });
});
