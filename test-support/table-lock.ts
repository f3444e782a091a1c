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
    /** Resolves once `sessions` other sessions (one unless said) wait for the lock. */
    async blocked(sessions = 1): Promise<void> {
      for (let i = 0; i < 10_000; i++) {
        const [row] = await reserved`select count(*)::int as n from pg_locks where relation = ${table}::regclass and not granted`;
        if (row!.n >= sessions) return;
      }
      throw new Error(`fewer than ${sessions} sessions waited for the lock on ${table}`);
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

/**
 * A buffered writer's flush returns only once what was gathered before it is written, also what an
 * earlier flush is still writing: `gather` buffers something, a first flush takes it and its insert
 * into `table` is held; a second flush (nothing left to take) must not answer until the lock goes.
 * Returns what the second flush answered.
 */
export async function expectFlushWaitsForEarlierWrite<T>(table: string, gather: () => Promise<unknown> | void, flush: () => Promise<T>): Promise<T> {
  // Held first: whichever flush takes the buffer (a timer's or the one below), its insert waits.
  const lock = await holdInsertsInto(table);
  try {
    await gather();
    void flush();
    await lock.blocked();
    let answered = false;
    const second = flush().then((value) => ((answered = true), value));
    await new Promise((resolve) => setImmediate(resolve));
    if (answered) throw new Error(`a flush answered while an earlier flush's insert into ${table} was still held`);
    await lock.release();
    return await second;
  } finally {
    await lock.release();
  }
}
