import "server-only";
import { and, eq, inArray, isNull, ne, sql, type SQL } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { sessions } from "@/db/schema";

// The writes that end end-user sessions, shared by every rule that ends them (suspension, access
// revoked, password changed, a connected app disconnected). With lib/end-user/sessions.ts (sign-in,
// idle time, sign-out) this folder is the one writer of `sessions` (lib/one-writer.test.ts). No
// audit row and no permission check here: the callers do both.

/** Ends sessions at once (server-side sessions are checked on every request), but `except` (the user's own current one); returns how many were open. */
export async function revokeSessionRows(tx: Executor, userIds: readonly string[], environmentId?: string, options: { except?: string } = {}): Promise<number> {
  if (userIds.length === 0) return 0;
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(
      and(
        inArray(sessions.userId, [...userIds]),
        // Expired rows too: an app's grant lives on its session's row (lib/oauth/consent-state.ts)
        // long after the session's own end, and ends only when the row is revoked.
        isNull(sessions.revokedAt),
        environmentId ? eq(sessions.environmentId, environmentId) : undefined,
        options.except ? ne(sessions.id, options.except) : undefined,
      ),
    )
    .returning({ open: sql<boolean>`${sessions.expiresAt} > now()` });
  // How many could still be used (an expired one was over already).
  return ended.filter((r) => r.open).length;
}

/** Ends an environment's sessions that `condition` picks (expired rows too: app grants live on them); returns how many were open. */
export async function revokeEnvironmentSessionRows(tx: Executor, environmentId: string, condition: SQL): Promise<number> {
  const ended = await tx
    .update(sessions)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(sessions.environmentId, environmentId), isNull(sessions.revokedAt), condition))
    .returning({ open: sql<boolean>`${sessions.expiresAt} > now()` });
  return ended.filter((r) => r.open).length;
}

/** Ends one session (a connected app's consent revoked ends the session it was given in). */
export async function revokeSessionRow(tx: Executor, sessionId: string): Promise<void> {
  await tx.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)));
}
