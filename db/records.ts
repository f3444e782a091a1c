import { getTableColumns, sql, type InferSelectModel, type SQL, type Table } from "drizzle-orm";

// Set-based writes whose statement text is the same whatever the number of rows: the rows travel
// as one jsonb parameter, read back with jsonb_to_recordset. Drizzle builds a multi-row VALUES list
// value by value (on the SCIM create path that was a fifth of the app's CPU), and every batch size
// is another statement text, parsed, described and planned again; one text is prepared once and
// its plan kept (db/auto-prepare.ts).

/** `jsonb_to_recordset(<rows>::jsonb) as v(<columns>)`: `columns` names each field with its type ("email text, name text"). */
export function recordset(rows: readonly object[], columns: string): SQL {
  return sql`jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(${sql.raw(columns)})`;
}

/**
 * `insert into <table> (<names>) select * from <recordset>`: rows whose fields are the columns
 * themselves, in the order `columns` gives them ("actor_type text, action text, …").
 */
export function insertRecords(table: Table, columns: string, rows: readonly object[], onlyWhere?: SQL): SQL {
  const names = columns.split(",").map((c) => c.trim().split(/\s+/)[0]!);
  // `onlyWhere` keeps the rows it holds for (each row is `v`, its fields by column name).
  return sql`insert into ${table} (${sql.raw(names.join(", "))}) select * from ${recordset(rows, columns)}${onlyWhere ? sql` where ${onlyWhere}` : sql``}`;
}

/**
 * Values as one Postgres array literal, for `col = any(${arrayLiteral(values)}::text[])` (or
 * `::uuid[]`): one parameter whatever their number, and an index condition the planner can use (a
 * set-returning function in `in (select …)` is estimated at 100 rows and joined, often by scanning
 * the table).
 */
export function arrayLiteral(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
}

/**
 * JSON text as a json/jsonb parameter (the client's serializer for both types: drizzle and
 * `recordset` send JSON.stringify's text). JSON.stringify writes a lone UTF-16 surrogate (a string
 * cut in the middle of an emoji, say) as an escape like \ud83d, which Postgres refuses; a text
 * parameter has it replaced by U+FFFD, so every JSON parameter does too. The common text has no such
 * escape and is sent as it is.
 */
export function wellFormedJson(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  // NUL (\u0000) too: jsonb refuses it, and one such value (a path a client sent, quoted in an
  // error) would fail a whole batch of rows. It becomes U+FFFD as well.
  return /\\ud[89a-f]|\\u0000/i.test(text) ? JSON.stringify(JSON.parse(text), wellFormed) : text;
}

const storable = (s: string) => s.toWellFormed().replaceAll("\0", "\uFFFD");

function wellFormed(_key: string, value: unknown): unknown {
  if (typeof value === "string") return storable(value);
  if (!value || typeof value !== "object" || Array.isArray(value) || Object.keys(value).every((k) => k === storable(k))) return value;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [storable(k), v]));
}

const snakeCase = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const columnsOf = new WeakMap<Table, [key: string, name: string, map: (value: unknown) => unknown][]>();

/**
 * Rows a raw statement returned (`returning *`: snake_case names, the driver's values) as the
 * table's rows, each value mapped as drizzle maps it (timestamps become dates).
 */
export function tableRows<T extends Table>(table: T, raw: readonly Record<string, unknown>[]): InferSelectModel<T>[] {
  let columns = columnsOf.get(table);
  if (!columns) {
    columns = Object.entries(getTableColumns(table)).map(([key, column]) => [key, snakeCase(key), (value: unknown) => column.mapFromDriverValue(value)]);
    columnsOf.set(table, columns);
  }
  return raw.map((r) => {
    const row: Record<string, unknown> = {};
    for (const [key, name, map] of columns) {
      if (!(name in r)) throw new Error(`The statement did not return ${name}.`);
      const value = r[name];
      row[key] = value === null || value === undefined ? null : map(value);
    }
    return row as InferSelectModel<T>;
  });
}
