import type postgres from "postgres";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSql, getDb } from "@/db/client";
import { flushGrowth } from "@/db/growth";
import { insertUserRows } from "@/lib/users/rows";
import { scimClient } from "@/lib/doors/scim/testing";
import { createEnvironments } from "@/test-support/fixtures";

// A row that references a user is checked by Postgres's foreign-key query, whose plan a connection
// keeps once it has run five times. Made while `users` was nearly empty (a fresh database), that
// plan is a sequential scan; kept, every check of a first large sync read the whole growing table
// (Postgres's CPU per SCIM create 2.3 ms against 1.3 ms). The writer of `users` has the table
// analyzed each time it doubles, and the connection plans the check again by its primary key.

// One connection of its own, so the plan it keeps is the one measured.
let connection: postgres.Sql;
let environments: Awaited<ReturnType<typeof createEnvironments>>;
beforeAll(async () => {
  connection = createSql(process.env.DATABASE_URL!, 1);
  environments = await createEnvironments();
});
afterAll(() => connection.end());

/**
 * Rows of `table` read by scanning while `run` runs on the one connection (its transaction's own
 * counts), in a transaction rolled back after.
 */
async function rowsScanned(table: string, run: (tx: postgres.TransactionSql) => Promise<unknown>): Promise<number> {
  let read = -1;
  const scanned = (tx: postgres.TransactionSql) => tx<{ n: number }[]>`select seq_tup_read::int as n from pg_stat_xact_user_tables where relname = ${table}`.then((r) => r[0]!.n);
  await connection
    .begin(async (tx) => {
      const before = await scanned(tx);
      await run(tx);
      read = (await scanned(tx)) - before;
      throw new RolledBack();
    })
    .catch((error: unknown) => {
      if (!(error instanceof RolledBack)) throw error;
    });
  return read;
}
class RolledBack extends Error {}

/** Rows of `users` one foreign-key check reads. */
const rowsReadByOneCheck = (userId: string, environmentId: string) =>
  rowsScanned("users", (tx) => tx`insert into environment_access (user_id, environment_id, source) values (${userId}, ${environmentId}, 'manual') on conflict do nothing`);

const newUsers = (from: number, count: number) =>
  Array.from({ length: count }, (_, i) => ({ email: `grow${from + i}@example.com`, name: `Grow ${from + i}`, source: "scim" as const }));

describe("plans of lookups by user id keep up with the table's growth", () => {
  it("a foreign-key check planned while users was nearly empty reads by primary key after a large sync", async () => {
    const environment = environments.dev;
    // The check stops at the row it finds: the newest user, last in the table, is found by a scan last.
    const small = await insertUserRows(getDb(), newUsers(0, 5));
    // Analyzed while small, as autovacuum does a fresh install's tables soon after the demo seed.
    await connection`analyze users`;
    // The connection runs the check more than five times on the small table: its plan is kept.
    const early: number[] = [];
    for (let i = 0; i < 8; i++) early.push(await rowsReadByOneCheck(small.at(-1)!.id, environment.id));
    const before = (await connection<{ count: number }[]>`select count(*)::int as count from users`)[0]!.count;

    // A sync of 3,000 users in batches, through the one writer of `users`.
    let newest = "";
    for (let from = 5; from < 3005; from += 250) newest = (await insertUserRows(getDb(), newUsers(from, 250))).at(-1)!.id;
    await flushGrowth();
    const after = (await connection<{ count: number }[]>`select count(*)::int as count from users`)[0]!.count;
    expect(after - before).toBe(3000);

    const late = await rowsReadByOneCheck(newest, environment.id);
    // On the small table the kept plan scans (the 5 users, up to the newest); after the sync the
    // check reads no row by scanning. Before the fix the same check read all 3,005.
    expect(early).toEqual(Array(8).fill(5));
    expect(late).toBe(0);
    const rows = (await connection<{ rows: number }[]>`select reltuples::int as rows from pg_class where oid = 'users'::regclass`)[0]!.rows;
    // Analyzed as it grew (the last time when it had doubled past 1,500 rows).
    expect(rows).toBeGreaterThanOrEqual(1000);
  });
});

/** Rows of `directory_users` one run of the create path's userName check reads (prepared, as the app's statements are). */
const rowsScannedByNameCheck = (directoryId: string, names: string[]) =>
  rowsScanned("directory_users", (tx) => tx.unsafe(`select lower(user_name) from directory_users where directory_id = $1 and lower(user_name) = any($2::text[])`, [directoryId, `{${names.join(",")}}`], { prepare: true }));

describe("plans of a directory's lookups keep up with its first large sync", () => {
  it("the create path's userName check, planned while directory_users was nearly empty, reads by index after the sync", async () => {
    const scim = await scimClient(environments.prod, "Growing directory");
    const body = (i: number) => ({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `sync${i}@corp.example`, active: true });
    for (let i = 0; i < 5; i++) expect((await scim.call("POST", "/Users", body(i))).status).toBe(201);
    await connection`analyze directory_users`;
    // More than five runs on the small table: the connection keeps its plan (a scan of the few rows).
    const early: number[] = [];
    for (let i = 0; i < 8; i++) early.push(await rowsScannedByNameCheck(scim.directory.id, [`absent${i}@corp.example`]));

    // A first sync of 3,000 users, 100 requests at a time (group commit writes them in batches).
    for (let from = 5; from < 3005; from += 100) {
      const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => scim.call("POST", "/Users", body(from + i))));
      expect(answers.map((a) => a.status)).toEqual(Array(100).fill(201));
    }
    await flushGrowth();

    const late = await rowsScannedByNameCheck(scim.directory.id, ["absent@corp.example"]);
    // The directory's 5 rows (the file's only ones) scanned each time while small; after the sync,
    // none: the check goes by the directory's unique index. Before the fix it scanned all 3,005.
    expect(early).toEqual(Array(8).fill(5));
    expect(late).toBe(0);
  });
});
