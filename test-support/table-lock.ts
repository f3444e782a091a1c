import postgres from "postgres";
import { env } from "@/env";

/**
 * Holds a lock on `table` that stops every insert into it (SHARE mode), on a connection of its own,
 * so a test can hold a background write where it is and look at what waits for it. `blocked()`
 * resolves once another session waits for the lock (read from pg_locks, not timed); `release()`
 * ends the transaction and lets the write through.
 */
export async function holdInsertsInto(table: string) {
  const sql = postgres(env().DATABASE_URL, { max: 1, onnotice: () => {} });
  const reserved = await sql.reserve();
  await reserved`begin`;
  await reserved.unsafe(`lock table ${table} in share mode`);
  let released = false;
  return {
    async blocked(): Promise<void> {
      for (let i = 0; i < 10_000; i++) {
        const [row] = await reserved`select count(*)::int as n from pg_locks where relation = ${table}::regclass and not granted`;
        if (row!.n > 0) return;
      }
      throw new Error(`nothing waited for the lock on ${table}`);
    },
    /** Ends the lock (a second call does nothing). */
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await reserved`rollback`;
      reserved.release();
      await sql.end();
    },
  };
}
