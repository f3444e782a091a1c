import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgTransaction } from "drizzle-orm/pg-core";
import type { PostgresJsQueryResultHKT } from "drizzle-orm/postgres-js";
import * as schema from "./schema";
import { env } from "@/lib/env";

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = PgTransaction<PostgresJsQueryResultHKT, typeof schema, ExtractTablesWithRelations<typeof schema>>;
/** Either the database or an open transaction: domain helpers accept both. */
export type Executor = Db | Tx;

type Client = { url: string; sql: postgres.Sql; db: Db };

// One client per process, kept across hot reloads in development (globalThis survives them).
const holder = globalThis as unknown as { __iamDb?: Client };

export function createSql(url: string, max = 10): postgres.Sql {
  return postgres(url, { max, onnotice: () => {}, connect_timeout: 10 });
}

/** The database, created on first use (never at import time: `next build` has no database). */
export function getDb(): Db {
  const url = env().DATABASE_URL;
  const current = holder.__iamDb;
  if (current && current.url === url) return current.db;
  if (current) void current.sql.end({ timeout: 1 });
  const sql = createSql(url, env().DATABASE_POOL_MAX);
  const db = drizzle(sql, { schema, casing: "snake_case" });
  holder.__iamDb = { url, sql, db };
  return db;
}

export function getSql(): postgres.Sql {
  getDb();
  return holder.__iamDb!.sql;
}

export async function closeDb(): Promise<void> {
  const current = holder.__iamDb;
  holder.__iamDb = undefined;
  if (current) await current.sql.end({ timeout: 5 });
}
