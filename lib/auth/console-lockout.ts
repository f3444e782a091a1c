import "server-only";
import { eq, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { consoleMembers } from "@/db/schema";

// A console member's lockout: wrong passwords and wrong second-factor codes (at sign-in and at a
// step-up) count together; MAX_FAILURES in a row lock the member out of both for LOCK_MINUTES. A
// lock that has run out starts the count again (one more wrong guess after it is not a new lock).

export const MAX_FAILURES = 10;
export const LOCK_MINUTES = 15;

/** Counts one wrong password or code against the member, locking them at MAX_FAILURES. */
export async function countConsoleFailure(executor: Executor, memberId: string): Promise<void> {
  const lapsed = sql`(${consoleMembers.lockedUntil} is not null and ${consoleMembers.lockedUntil} <= now())`;
  const count = sql`case when ${lapsed} then 1 else ${consoleMembers.failedSignIns} + 1 end`;
  await executor
    .update(consoleMembers)
    .set({
      failedSignIns: count,
      lockedUntil: sql`case when ${count} >= ${MAX_FAILURES} then now() + make_interval(mins => ${LOCK_MINUTES})
        when ${lapsed} then null else ${consoleMembers.lockedUntil} end`,
    })
    .where(eq(consoleMembers.id, memberId));
}

/** After a right password (and code), or a step-up proven: the count starts again (`signedIn`: and the sign-in is noted). */
export async function clearConsoleFailures(executor: Executor, memberId: string, options: { signedIn?: boolean } = {}): Promise<void> {
  await executor
    .update(consoleMembers)
    .set({ failedSignIns: 0, lockedUntil: null, ...(options.signedIn ? { lastSignInAt: sql`now()` } : {}) })
    .where(eq(consoleMembers.id, memberId));
}

/**
 * Whether the member is locked out now (until when), or null. The member's row stays locked until
 * the caller's transaction ends, so guesses sent at once are checked and counted one after another
 * (no key update: their sessions' rows, which only reference it, are not held up).
 */
export async function consoleLockedUntil(executor: Executor, memberId: string): Promise<Date | null> {
  const [row] = await executor.select({ lockedUntil: consoleMembers.lockedUntil }).from(consoleMembers).where(eq(consoleMembers.id, memberId)).for("no key update");
  return row?.lockedUntil && row.lockedUntil > new Date() ? row.lockedUntil : null;
}
