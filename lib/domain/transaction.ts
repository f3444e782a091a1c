import "server-only";
import { AsyncLocalStorage } from "node:async_hooks";
import { getDb, type Tx } from "@/db/client";
import { translateDbError } from "@/lib/db-errors";

// A domain change runs in one transaction. Inside `inOneTransaction` (an environment promotion:
// many domain changes that stand or fall together), each domain function's own transaction becomes
// a savepoint of the enclosing one, so every rule still runs where it lives and nothing commits
// until all of it does.
const ambient = new AsyncLocalStorage<Tx>();

/** Runs `fn` in one transaction; constraint violations come out as domain errors (409/400). */
export async function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  const outer = ambient.getStore();
  try {
    if (outer) return await outer.transaction((tx) => ambient.run(tx, () => fn(tx)));
    return await getDb().transaction(fn);
  } catch (error) {
    translateDbError(error);
  }
}

/** Runs `fn` in one transaction that the domain changes made inside it join (as savepoints). */
export async function inOneTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await getDb().transaction((tx) => ambient.run(tx, () => fn(tx)));
  } catch (error) {
    translateDbError(error);
  }
}
