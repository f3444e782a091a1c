import "server-only";
import { getDb, type Tx } from "@/db/client";
import { translateDbError } from "@/lib/db-errors";

/** Runs `fn` in one transaction; constraint violations come out as domain errors (409/400). */
export async function inTransaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
  try {
    return await getDb().transaction(fn);
  } catch (error) {
    translateDbError(error);
  }
}
