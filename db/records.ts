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
 * Values as one Postgres array literal, for `col = any(${textArray(values)}::text[])`: one parameter
 * whatever their number, and an index condition the planner can use (a set-returning function in
 * `in (select …)` is estimated at 100 rows and joined, often by scanning the table).
 */
export function textArray(values: readonly string[]): string {
  return `{${values.map((v) => `"${v.replace(/[\\"]/g, "\\$&")}"`).join(",")}}`;
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
