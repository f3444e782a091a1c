import postgres from "postgres";
import { drizzle, type PostgresJsDatabase } from "drizzle-orm/postgres-js";
import type { ExtractTablesWithRelations } from "drizzle-orm";
import type { PgTransaction } from "drizzle-orm/pg-core";
import type { PostgresJsQueryResultHKT } from "drizzle-orm/postgres-js";
import * as schema from "./schema";
import { env } from "@/env";
import { autoPreparing, preparePolicy } from "./auto-prepare";
import { wellFormedJson } from "./records";

export type Db = PostgresJsDatabase<typeof schema>;
export type Tx = PgTransaction<PostgresJsQueryResultHKT, typeof schema, ExtractTablesWithRelations<typeof schema>>;
/** Either the database or an open transaction: domain helpers accept both. */
export type Executor = Db | Tx;

type Client = { url: string; sql: postgres.Sql; db: Db };

// One client per process, kept across hot reloads in development (globalThis survives them).
const holder = globalThis as unknown as { __iamDb?: Client; __iamDrains?: Map<string, () => Promise<unknown>> };
const drains = (holder.__iamDrains ??= new Map<string, () => Promise<unknown>>());
const instance = Math.random().toString(36).slice(2);

/**
 * Registers a flush of buffered writes (the SCIM request log, token issuance batches) that
 * closeDb runs first, so nothing buffered is written after the client is gone (a timer firing
 * after close would open a new client, to a database that may be being dropped).
 */
export function drainBeforeClose(name: string, flush: () => Promise<unknown>): void {
  // Keyed per copy of the calling module: under the lean server, Next's bundle and the server load
  // their own copies of the same module in one process, and each has its own buffer to flush.
  drains.set(`${name}#${instance}`, flush);
}

/**
 * The writes of a buffered writer, in the order they start: `after(write)` resolves once `write`
 * and every write started before it have settled (it never rejects; await the write itself for
 * its error), so a flush that finds its buffer empty still waits for the one a timer started.
 */
export function writesInOrder(): (write?: Promise<unknown>) => Promise<void> {
  let all: Promise<unknown> = Promise.resolve();
  return (write) => {
    if (write) all = Promise.allSettled([all, write]);
    return all.then(() => undefined);
  };
}


export function createSql(url: string, max = 10): postgres.Sql {
  const counter = (globalThis as { __iamQueryCounter?: Map<string, number> }).__iamQueryCounter;
  // A connection lives 30 to 60 minutes (postgres.js's default, said here because the bound on the
  // prepared statements it keeps relies on it: db/auto-prepare.ts, which also says why a pattern
  // match is never prepared).
  return postgres(url, {
    max,
    onnotice: () => {},
    connect_timeout: 10,
    max_lifetime: 60 * (30 + Math.random() * 30),
    ...(counter ? { debug: (_c: number, q: string) => counter.set(q.slice(0, 90), (counter.get(q.slice(0, 90)) ?? 0) + 1) } : {}),
  });
}

/** The database, created on first use (never at import time: `next build` has no database). */
export function getDb(): Db {
  const url = env().DATABASE_URL;
  const current = holder.__iamDb;
  if (current && current.url === url) return current.db;
  if (current) void current.sql.end({ timeout: 1 });
  const sql = createSql(url, env().DATABASE_POOL_MAX);
  const db = drizzle(env().DATABASE_PREPARE ? autoPreparing(sql, preparePolicy()) : sql, { schema, casing: "snake_case" });
  // After drizzle, which makes both serializers pass its JSON text through as it is.
  sql.options.serializers["114"] = sql.options.serializers["3802"] = wellFormedJson;
  holder.__iamDb = { url, sql, db };
  return db;
}

export function getSql(): postgres.Sql {
  getDb();
  return holder.__iamDb!.sql;
}

export async function closeDb(): Promise<void> {
  if (holder.__iamDb) {
    for (const [name, flush] of drains) await flush().catch((e: unknown) => console.warn(`[db] ${name} not flushed before close:`, (e as Error).message));
  }
  const current = holder.__iamDb;
  holder.__iamDb = undefined;
  if (current) await current.sql.end({ timeout: 5 });
}
