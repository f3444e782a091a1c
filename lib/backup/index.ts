import fs from "node:fs";
import readline from "node:readline";
import { once } from "node:events";
import { pipeline } from "node:stream/promises";
import { createGunzip, createGzip } from "node:zlib";
import type postgres from "postgres";

// Backup and restore without pg_dump (the embedded server is newer than the machine's client
// tools): every table of the public schema (ours and Jackson's; not the transient rate limits),
// read in one repeatable-read snapshot, into one gzip file:
//
//   {"format":"iam-console-backup",...}          header line (JSON)
//   \table <name>\t<columns as JSON>               then the table's rows, one JSON object a line
//   \.                                            end of the table
//
// Restore loads into a database migrated to the same migration, in one transaction, with
// triggers and foreign keys deferred to the data (session_replication_role = replica, which needs
// a superuser: the embedded server and the usual admin roles are), then moves identity sequences
// past the restored ids. The audit trail comes back row for row, so its chain still verifies.

export const FORMAT = "iam-console-backup";
const SKIP = new Set(["rate_limits"]);

type Header = { format: string; version: 1; createdAt: string; migrations: { count: number; last: string | null }; tables: { name: string; rows: number }[] };

type Client = postgres.Sql | postgres.TransactionSql;

async function migrationsOf(pg: Client): Promise<Header["migrations"]> {
  const [row] = await pg<{ count: number; last: string | null }[]>`
    select count(*)::int as count, (select hash from drizzle.__drizzle_migrations order by id desc limit 1) as last from drizzle.__drizzle_migrations`;
  return { count: row!.count, last: row!.last };
}

async function tablesOf(pg: Client): Promise<{ name: string; columns: string[] }[]> {
  const rows = await pg<{ name: string; columns: string[] }[]>`
    select c.table_name as name, array_agg(c.column_name::text order by c.ordinal_position) as columns
    from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema = 'public' and t.table_type = 'BASE TABLE' and c.is_generated = 'NEVER'
    group by c.table_name order by c.table_name`;
  return rows.filter((t) => !SKIP.has(t.name));
}

/** Writes a consistent backup of the database behind `pg` to `file`; returns the header. */
export async function backupDatabase(pg: postgres.Sql, file: string): Promise<Header> {
  const gzip = createGzip();
  const out = fs.createWriteStream(file);
  const done = pipeline(gzip, out);
  const write = async (chunk: string | Buffer) => {
    if (!gzip.write(chunk)) await once(gzip, "drain");
  };
  let header: Header | undefined;
  await pg.begin("isolation level repeatable read read only", async (tx) => {
    const tables = await tablesOf(tx);
    const counts = await Promise.all(tables.map(async (t) => ({ name: t.name, rows: Number((await tx.unsafe(`select count(*) as n from "${t.name}"`))[0]!.n) })));
    header = { format: FORMAT, version: 1, createdAt: new Date().toISOString(), migrations: await migrationsOf(tx), tables: counts };
    await write(`${JSON.stringify(header)}\n`);
    for (const t of tables) {
      await write(`\\table ${t.name}\t${JSON.stringify(t.columns)}\n`);
      // Rows as JSON lines (Postgres's own row_to_json), read with a cursor a thousand at a time.
      const columns = t.columns.map((c) => `"${c}"`).join(", ");
      for await (const rows of tx.unsafe<{ j: string }[]>(`select row_to_json(x)::text as j from (select ${columns} from "${t.name}") x`).cursor(1000)) {
        await write(`${rows.map((r) => r.j).join("\n")}\n`);
      }
      await write("\\.\n");
    }
  });
  gzip.end();
  await done;
  return header!;
}

export class RestoreError extends Error {}

/** A name from the catalog as an SQL identifier (every name reaching SQL was checked against the catalog first). */
const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;
const shown = (name: unknown) => JSON.stringify(typeof name === "string" ? name.slice(0, 200) : name);

type TablePlan = { name: string; columns: string[] };

function openLines(file: string): AsyncIterator<string> {
  const lines = readline.createInterface({ input: fs.createReadStream(file).pipe(createGunzip()), crlfDelay: Infinity });
  return lines[Symbol.asyncIterator]();
}

async function readHeader(iterator: AsyncIterator<string>): Promise<Header> {
  const first = await iterator.next();
  let header: Header;
  try {
    header = JSON.parse(first.value ?? "") as Header;
  } catch {
    throw new RestoreError("This is not a backup of this console (no header).");
  }
  if (header?.format !== FORMAT || header.version !== 1) throw new RestoreError(`This is not a backup of this console (format ${String(header?.format)}).`);
  return header;
}

/**
 * Reads the whole file once before anything is written, and checks every table and column it
 * names against this database's schema: a backup is data, and its names must never become SQL
 * of their own (restore runs as the database owner). Refuses with the offending name; returns
 * what to load.
 */
async function checkNames(file: string, header: Header, present: Map<string, string[]>): Promise<TablePlan[]> {
  if (!Array.isArray(header.tables) || !header.tables.every((t) => t && typeof t === "object" && typeof t.name === "string")) {
    throw new RestoreError("The backup's header does not list its tables.");
  }
  for (const { name } of header.tables) {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new RestoreError(`The backup names a table that is not a table of this console: ${shown(name)}. Nothing was restored.`);
  }
  const listed = new Set(header.tables.map((t) => t.name));
  const missing = [...listed].filter((name) => !present.has(name));
  if (missing.length) throw new RestoreError(`This database lacks ${missing.join(", ")} (Jackson creates its tables when the app first starts).`);

  const plan: TablePlan[] = [];
  const iterator = openLines(file);
  await iterator.next(); // the header
  for (;;) {
    const next = await iterator.next();
    if (next.done) break;
    const match = /^\\table ([^\t]*)\t(.*)$/.exec(next.value);
    if (!match) throw new RestoreError(`Unexpected line in the backup: ${next.value.slice(0, 80)}`);
    const name = match[1]!;
    const columnsJson = match[2]!;
    if (!present.has(name) || !listed.has(name)) throw new RestoreError(`The backup names a table that is not a table of this console (or not in its header): ${shown(name)}. Nothing was restored.`);
    let columns: unknown;
    try {
      columns = JSON.parse(columnsJson);
    } catch {
      columns = null;
    }
    if (!Array.isArray(columns) || columns.length === 0) throw new RestoreError(`The backup's column list of table ${name} is not a list of names. Nothing was restored.`);
    const known = new Set(present.get(name));
    for (const column of columns) {
      if (typeof column !== "string" || !known.has(column)) throw new RestoreError(`The backup names a column that table ${name} does not have: ${shown(column)}. Nothing was restored.`);
    }
    if (new Set(columns).size !== columns.length) throw new RestoreError(`The backup names a column of table ${name} twice. Nothing was restored.`);
    if (plan.some((t) => t.name === name)) throw new RestoreError(`The backup holds table ${name} twice. Nothing was restored.`);
    plan.push({ name, columns: columns as string[] });
    for (;;) {
      const row = await iterator.next();
      if (row.done) throw new RestoreError(`The backup ends inside table ${name}.`);
      if (row.value === "\\.") break;
    }
  }
  return plan;
}

/**
 * Loads `file` into the database behind `pg`. The database must be migrated to the backup's
 * migration; it must hold no data unless `replace` (then every backed-up table is emptied first).
 * Every table and column name in the file is checked against the schema before any statement.
 */
export async function restoreDatabase(pg: postgres.Sql, file: string, options: { replace?: boolean } = {}): Promise<Header> {
  const header = await readHeader(openLines(file));
  const target = await migrationsOf(pg);
  if (target.count !== header.migrations?.count || target.last !== header.migrations?.last) {
    throw new RestoreError(`The backup was taken at migration ${header.migrations?.count}; this database is at ${target.count}. Migrate to the same version (npm run db:migrate) before restoring.`);
  }
  const present = new Map((await tablesOf(pg)).map((t) => [t.name, t.columns]));
  const plan = await checkNames(file, header, present);
  if (!options.replace) {
    const [row] = await pg.unsafe<{ n: number }[]>(`select (select count(*) from users) + (select count(*) from console_members) + (select count(*) from audit_events) as n`);
    if (Number(row?.n) > 0) throw new RestoreError("This database already holds data: restore into an empty one, or pass --replace to empty it first.");
  }
  const iterator = openLines(file);
  await iterator.next(); // the header, read above
  await pg.begin(async (tx) => {
    await tx`set local session_replication_role = replica`;
    // Triggers do not fire here: tell running instances to forget what they keep in memory (at commit).
    await tx`select pg_notify('iam_decisions', '*')`;
    if (options.replace) await tx.unsafe(`truncate ${header.tables.map((t) => ident(t.name)).join(", ")}`);
    // Rows the migrations wrote belong to the backed-up database: the zone its audit chain is
    // printed in (a target migrated on a server with another default would print it otherwise).
    // (The backup holds the table: it was taken at the same migration.)
    else await tx`truncate audit_chain_settings`;
    for (const table of plan) {
      const next = await iterator.next();
      // The file was read through once already; it changing in between is refused, not followed.
      if (next.done || !next.value.startsWith(`\\table ${table.name}\t`)) throw new RestoreError("The backup file changed while it was being restored.");
      const list = table.columns.map(ident).join(", ");
      const insert = async (batch: string[]) => {
        if (!batch.length) return;
        await tx.unsafe(`insert into ${ident(table.name)} (${list}) overriding system value select ${list} from json_populate_recordset(null::${ident(table.name)}, $1::text::json)`, [`[${batch.join(",")}]`]);
      };
      let batch: string[] = [];
      for (;;) {
        const row = await iterator.next();
        if (row.done) throw new RestoreError(`The backup ends inside table ${table.name}.`);
        if (row.value === "\\.") break;
        batch.push(row.value);
        if (batch.length === 1000) {
          await insert(batch);
          batch = [];
        }
      }
      await insert(batch);
    }
    if (!(await iterator.next()).done) throw new RestoreError("The backup file changed while it was being restored.");
    // Identity and serial columns continue after the restored ids.
    const sequences = await tx<{ table: string; column: string; seq: string }[]>`
      select c.table_name as table, c.column_name as column, pg_get_serial_sequence(format('%I', c.table_name), c.column_name) as seq
      from information_schema.columns c where c.table_schema = 'public' and pg_get_serial_sequence(format('%I', c.table_name), c.column_name) is not null`;
    for (const s of sequences) {
      await tx`select setval(${s.seq}::regclass, coalesce((select max(${tx(s.column)}) from ${tx(s.table)}), 0) + 1, false)`;
    }
  });
  return header;
}
