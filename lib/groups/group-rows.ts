import "server-only";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import type { GroupSource } from "@/db/enums";
import { groups, type Group } from "@/db/schema";

// The one writer of `groups` (with membership-rows.ts, the one writer of `group_members`): the
// console, the REST API, SCIM, SSO group creation and new environments' Everyone all go through
// these helpers. They write no audit row and check no permission: their callers do.

/** The longest group name, whoever names it: an admin, a directory (SCIM) or an IdP's groups attribute. */
export const GROUP_NAME_MAX = 120;

export type NewGroupRow = {
  environmentId: string;
  name: string;
  source: GroupSource;
  description?: string;
  externalId?: string | null;
  directoryId?: string | null;
};

/**
 * Inserts groups in one statement. With `skipExisting`, a name already taken in its environment
 * is skipped instead of failing (SSO creating groups named by an assertion); returns what was new.
 */
export async function insertGroupRows(tx: Executor, rows: readonly NewGroupRow[], options: { skipExisting?: boolean } = {}): Promise<Group[]> {
  if (rows.length === 0) return [];
  const insert = tx.insert(groups).values(
    rows.map((r) => ({
      environmentId: r.environmentId,
      name: r.name,
      source: r.source,
      description: r.description ?? "",
      externalId: r.externalId ?? null,
      directoryId: r.directoryId ?? null,
    })),
  );
  return options.skipExisting ? insert.onConflictDoNothing().returning() : insert.returning();
}

/** Changes a group's name, description or external id; bumps its version (ETag). */
export async function updateGroupRow(
  tx: Executor,
  id: string,
  changes: Partial<Pick<Group, "name" | "description" | "externalId">>,
): Promise<Group> {
  const [row] = await tx
    .update(groups)
    .set({ ...changes, version: sql`${groups.version} + 1`, updatedAt: sql`now()` })
    .where(eq(groups.id, id))
    .returning();
  return row!;
}

/** Deletes groups; their memberships and grants go with them (foreign keys cascade). */
export async function deleteGroupRows(tx: Executor, ids: readonly string[], environmentId?: string): Promise<void> {
  if (ids.length === 0) return;
  await tx.delete(groups).where(and(inArray(groups.id, [...ids]), environmentId ? eq(groups.environmentId, environmentId) : undefined));
}
