import { expect } from "vitest";
import { getSql } from "@/db/client";

/**
 * Races made to happen in one order: starts each of `starts` while a third connection holds what
 * `hold` locks, one after another, each once the ones before wait on a lock (so they queue, and go
 * on, in that order), then lets go. Their outcomes, a refusal's message in its place. Waits on
 * Postgres (pg_stat_activity), never on the clock.
 */
export async function whileHeld(hold: (held: ReturnType<typeof getSql>) => Promise<unknown>, starts: (() => Promise<unknown>)[]): Promise<unknown[]> {
  const holder = await getSql().reserve();
  const waits = async () => (await getSql()`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)[0]!.n as number;
  try {
    await holder`begin`;
    await hold(holder as unknown as ReturnType<typeof getSql>);
    const running: Promise<unknown>[] = [];
    for (const [i, start] of starts.entries()) {
      running.push(start().catch((e: Error) => e.message));
      await expect.poll(waits, { timeout: 15_000 }).toBe(i + 1);
    }
    await holder`commit`;
    return await Promise.all(running);
  } finally {
    holder.release();
  }
}
