import { drainBeforeClose, getSql } from "./client";

// Plans that keep up with a table's growth.
//
// Postgres keeps a generic plan for a statement run often on one connection: the foreign-key
// checks of every row that references a user (`SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE`,
// nine per SCIM create) and the statements of row triggers (the member sort keys read the user by
// id). It plans them again only when the table's statistics change. On a fresh database `users`
// holds a handful of rows when those plans are made, one page, so the plan kept is a sequential
// scan; a first large sync (a directory, an import) then reads the whole, growing table per
// check (63 µs a check at 5,000 users, against 4.5 µs by the primary key: Postgres's CPU per SCIM
// create 2.3 ms against 1.3), until autovacuum happens to analyze the table, or never where it is
// off. The same goes for the create path's check of a directory's userNames (directory_users by
// the directory's unique index on lower(user_name)): planned while the directory held a handful
// of rows, a scan of the whole directory per batch (0.64 ms a batch at 5,000 users, a sixth of
// Postgres's time per SCIM create, growing with the directory).
//
// So the one writer of a table reports what it inserted, and each time this process has added as
// many rows as the table held at its last analyze (it doubled), the table is analyzed in the
// background: the statistics change, every connection plans again with the table's size of now.
// A table that doubles is analyzed a logarithmic number of times as it grows; a large table
// almost never.

export type GrowingTable = "users" | "directory_users";

/** Rows a table must gain before the first analyze (below that any plan is cheap). */
const FIRST_ANALYZE_AFTER = 100;

type State = { inserted: number; threshold: number; running: Promise<void> | null };
const tables = new Map<GrowingTable, State>();

export function noteInserted(table: GrowingTable, rows: number): void {
  if (rows <= 0) return;
  let state = tables.get(table);
  if (!state) tables.set(table, (state = { inserted: 0, threshold: FIRST_ANALYZE_AFTER, running: null }));
  state.inserted += rows;
  if (state.inserted < state.threshold || state.running) return;
  state.inserted = 0;
  state.running = analyze(table)
    .then((size) => void (state.threshold = Math.max(FIRST_ANALYZE_AFTER, size)))
    .catch((error: unknown) => console.warn(`[db] analyze ${table} failed:`, (error as Error).message))
    .finally(() => void (state.running = null));
}

/** Analyzes `table` (on its own connection, outside the writer's transaction); its row count after. */
async function analyze(table: GrowingTable): Promise<number> {
  // A tick later: the rows that crossed the threshold are committed by then in the usual case (a
  // row analyzed a moment early only counts towards the next time).
  await new Promise((resolve) => setImmediate(resolve));
  const sql = getSql();
  await sql.unsafe(`analyze ${table}`);
  const [row] = await sql<{ rows: number }[]>`select greatest(reltuples, 0)::float8 as rows from pg_class where oid = ${table}::regclass`;
  return row?.rows ?? 0;
}

/** Waits for the analyzes under way (tests, and the client's close). */
export async function flushGrowth(): Promise<void> {
  await Promise.all([...tables.values()].map((s) => s.running));
}

drainBeforeClose("table growth", flushGrowth);
