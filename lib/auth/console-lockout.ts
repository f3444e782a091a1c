import "server-only";
import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { consoleMembers } from "@/db/schema";

// A console member's lockout: wrong passwords and wrong second-factor codes (at sign-in and at a
// step-up) count together; MAX_FAILURES in a row lock the member out of both for LOCK_MINUTES. A
// lock that has run out starts the count again (one more wrong guess after it is not a new lock).

export const MAX_FAILURES = 10;
export const LOCK_MINUTES = 15;

const lapsed = sql`(${consoleMembers.lockedUntil} is not null and ${consoleMembers.lockedUntil} <= now())`;
const nextCount = sql`case when ${lapsed} then 1 else ${consoleMembers.failedSignIns} + 1 end`;
const oneMore = {
  failedSignIns: nextCount,
  lockedUntil: sql`case when ${nextCount} >= ${MAX_FAILURES} then now() + make_interval(mins => ${LOCK_MINUTES})
    when ${lapsed} then null else ${consoleMembers.lockedUntil} end`,
};

/** Counts one wrong password or code against the member, locking them at MAX_FAILURES. */
export async function countConsoleFailure(executor: Executor, memberId: string): Promise<void> {
  await executor.update(consoleMembers).set(oneMore).where(eq(consoleMembers.id, memberId));
}

/**
 * A sign-in attempt counted before it is judged, unless the member is locked (false then): one
 * statement, so guesses sent at once queue on the row and none gets past a lock another armed. A
 * sign-in clears the count (clearConsoleFailures); a wrong password or code leaves it counted.
 */
export async function reserveConsoleAttempt(executor: Executor, memberId: string): Promise<boolean> {
  const [row] = await executor
    .update(consoleMembers)
    .set(oneMore)
    .where(and(eq(consoleMembers.id, memberId), sql`(${consoleMembers.lockedUntil} is null or ${consoleMembers.lockedUntil} <= now())`))
    .returning({ id: consoleMembers.id });
  return !!row;
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
