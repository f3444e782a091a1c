// Developer aid: what Postgres's CPU per SCIM create owes to the transaction rather than to the
// rows. The rows one create writes (bench:scim's "same rows in SQL alone": the user, the directory's
// user, access, two audit rows, the Everyone membership, with their triggers), straight through
// postgres.js in transactions of 1, 2, 4, 8 and 16 creates; then, in transactions of one create, with
// the insert triggers (counts, ledger, decision notifications, sort keys) switched off one at a time
// and all at once, in a database of its own. Prints one JSON line per run: creates/s, Postgres's and
// this process's CPU milliseconds per create (/proc). Run twice over, the machine's drift shows.
// With --indexes instead: transactions of 4 creates (bench:scim's usual batch) with every index,
// then with only the primary keys and unique indexes (the others serve the console's lists, sorts
// and searches), without the GIN indexes, and without each written table's secondary indexes, twice
// over: what the secondary indexes cost a create (each dropped for its run and made again after).
import { getSql } from "@/db/client";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { createDirectory } from "@/lib/directories";
import { findEnvironmentByKey } from "@/lib/environments";
import { freshBenchDatabase } from "../bench/fresh-database";
import { runBench } from "../bench/harness";
import { createRows } from "../bench/create-rows";
import { cpuPerOperation, cpuSnapshot } from "../bench/cpu";

let prefix = 0;
async function rows(environmentId: string, directoryId: string, count: number, size: number) {
  const pg = getSql();
  const p = `c${prefix++}-`;
  const s0 = cpuSnapshot(null);
  const t = performance.now();
  for (let from = 0; from < count; from += size) await createRows(pg, { environmentId, directoryId, prefix: p, from, n: Math.min(size, count - from) });
  const rate = count / ((performance.now() - t) / 1000);
  const cpu = cpuPerOperation(s0, cpuSnapshot(null), count);
  console.log(JSON.stringify({ size, rate: Math.round(rate), pgMsPerCreate: cpu.postgres, clientMs: cpu.self }));
}

const WRITTEN = ["users", "directory_users", "environment_access", "group_members", "audit_events", "membership_ledger"];

async function secondaryIndexes(): Promise<{ name: string; def: string }[]> {
  return getSql()<{ name: string; def: string }[]>`
    select i.indexrelid::regclass::text as name, pg_get_indexdef(i.indexrelid) as def
    from pg_index i join pg_class t on t.oid = i.indrelid
    where t.relname = any(${WRITTEN}) and not i.indisunique and not i.indisprimary`;
}

await runBench(async (db) => {
  await freshBenchDatabase(db, "iam_sql_batch_cost");
  const env = (await findEnvironmentByKey("test"))!;
  const { directory } = await createDirectory({ actor: SYSTEM_ACTOR }, { environmentId: env.id, name: "batches" });
  await rows(env.id, directory.id, 1000, 8);
  if (process.argv.includes("--indexes")) {
    const pg = getSql();
    const secondary = await secondaryIndexes();
    console.log(`${secondary.length} secondary indexes on ${WRITTEN.join(", ")}`);
    const without = async (label: string, dropped: typeof secondary) => {
      for (const { name } of dropped) await pg.unsafe(`drop index ${name}`);
      process.stdout.write(`${label}: `);
      await rows(env.id, directory.id, 4000, 4);
      for (const { def } of dropped) await pg.unsafe(def);
    };
    for (let pass = 0; pass < 2; pass++) {
      await without("every index", []);
      await without("primary keys and unique indexes only", secondary);
      await without("without the GIN indexes", secondary.filter((i) => / using gin /i.test(i.def)));
      for (const table of WRITTEN) await without(`without ${table}'s`, secondary.filter((i) => i.def.includes(` ON public.${table} `)));
    }
    return;
  }
  for (const size of [1, 2, 4, 8, 16, 1, 2, 4, 8, 16]) await rows(env.id, directory.id, 3000, size);
  const triggers = [
    "directory_users.directory_users_count_insert",
    "environment_access.environment_access_decisions_insert",
    "environment_access.environment_access_keys_insert",
    "environment_access.environment_access_ledger_insert",
    "group_members.group_members_copy_sort_keys",
    "group_members.group_members_count_insert",
    "group_members.group_members_decisions_insert",
    "group_members.group_members_ledger_insert",
  ];
  const configs: [string, string[]][] = [["all triggers", []], ...triggers.map((t): [string, string[]] => [`without ${t}`, [t]]), ["no insert triggers", triggers]];
  const pg = getSql();
  for (const [name, off] of [...configs, ...configs]) {
    for (const t of off) await pg.unsafe(`alter table ${t.split(".")[0]} disable trigger ${t.split(".")[1]}`);
    process.stdout.write(`${name}: `);
    await rows(env.id, directory.id, 2000, 1);
    for (const t of off) await pg.unsafe(`alter table ${t.split(".")[0]} enable trigger ${t.split(".")[1]}`);
  }
});
