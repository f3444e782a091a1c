import "server-only";
import { and, eq, inArray, sql } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { arrayLiteral, recordset } from "@/db/records";
import type { AccessSource, MembershipSource } from "@/db/enums";
import { environmentAccess, groupMembers, groups } from "@/db/schema";
import { revokeSessionRows } from "@/lib/end-user/session-rows";

// Row-level helpers shared by the domain functions of users, groups, SCIM and SAML sync.
// They write no audit row and check no permission: their callers do, once per change.
// All are set-based, so a bulk action of 10,000 users is a handful of statements.

/** Grants environment access and the Everyone membership; returns the users newly granted. */
export async function insertAccessRows(
  tx: Executor,
  userIds: readonly string[],
  environmentId: string,
  source: AccessSource,
  directoryId: string | null = null,
): Promise<string[]> {
  if (userIds.length === 0) return [];
  const ids = arrayLiteral(userIds);
  // Both statements go out together (pipelined on the transaction's connection, in this order):
  // the access, and Everyone of the environment found and joined in one statement (users who
  // already had access are already in it: nothing happens for them).
  const [granted] = await Promise.all([
    // One statement text whatever the number of users (the ids as one array parameter).
    tx.execute<{ user_id: string }>(sql`
      insert into ${environmentAccess} (user_id, environment_id, source, directory_id)
      select u.id, ${environmentId}::uuid, ${source}, ${directoryId}::uuid from unnest(${ids}::uuid[]) as u(id)
      on conflict do nothing
      returning user_id`),
    tx.execute(sql`
      insert into ${groupMembers} (group_id, user_id, environment_id, source)
      select g.id, u.id, g.environment_id, 'system' from ${groups} g cross join unnest(${ids}::uuid[]) as u(id)
      where g.source = 'system' and g.environment_id = ${environmentId}
      on conflict do nothing`),
  ]);
  return granted.map((r) => r.user_id);
}

/**
 * Revokes environment access: removes every membership the users had in that environment
 * (Everyone included) and ends their sessions there. Returns the users whose access was removed.
 */
export async function deleteAccessRows(tx: Executor, userIds: readonly string[], environmentId: string): Promise<string[]> {
  if (userIds.length === 0) return [];
  const removed = await tx
    .delete(environmentAccess)
    .where(and(eq(environmentAccess.environmentId, environmentId), inArray(environmentAccess.userId, [...userIds])))
    .returning({ userId: environmentAccess.userId });
  const ids = removed.map((r) => r.userId);
  if (ids.length === 0) return [];
  await tx.delete(groupMembers).where(and(eq(groupMembers.environmentId, environmentId), inArray(groupMembers.userId, ids)));
  await revokeSessionRows(tx, ids, environmentId);
  return ids;
}

export type MembershipPair = { groupId: string; userId: string; environmentId: string };

/** Inserts any mix of (group, user) memberships in one statement; returns those that were new. */
export async function insertMembershipPairs(
  tx: Executor,
  pairs: readonly MembershipPair[],
  source: MembershipSource,
  directoryId: string | null = null,
  /** The IdP whose group sync adds them (source "saml"). */
  identityProviderId: string | null = null,
): Promise<MembershipPair[]> {
  if (pairs.length === 0) return [];
  return tx
    .insert(groupMembers)
    .values(pairs.map((p) => ({ ...p, source, directoryId, identityProviderId })))
    .onConflictDoNothing()
    .returning({ groupId: groupMembers.groupId, userId: groupMembers.userId, environmentId: groupMembers.environmentId });
}

/** Adds users to one group; returns the users that were not members yet. */
export async function insertMembershipRows(
  tx: Executor,
  groupId: string,
  environmentId: string,
  userIds: readonly string[],
  source: MembershipSource,
  directoryId: string | null = null,
): Promise<string[]> {
  const added = await insertMembershipPairs(tx, userIds.map((userId) => ({ groupId, userId, environmentId })), source, directoryId);
  return added.map((r) => r.userId);
}

export async function deleteMembershipRows(tx: Executor, groupId: string, userIds: readonly string[]): Promise<string[]> {
  if (userIds.length === 0) return [];
  const removed = await tx
    .delete(groupMembers)
    .where(and(eq(groupMembers.groupId, groupId), inArray(groupMembers.userId, [...userIds])))
    .returning({ userId: groupMembers.userId });
  return removed.map((r) => r.userId);
}

/** The subset of `userIds` that may enter the environment. */
export async function usersWithAccess(tx: Executor, userIds: readonly string[], environmentId: string): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const rows = await tx
    .select({ userId: environmentAccess.userId })
    .from(environmentAccess)
    .where(and(eq(environmentAccess.environmentId, environmentId), inArray(environmentAccess.userId, [...userIds])));
  return new Set(rows.map((r) => r.userId));
}

/**
 * Makes a directory's own (source scim) memberships of one group exactly `members`: adds the
 * missing ones with the display the client sent, removes the directory's others. Memberships of
 * another source stay as they are (a manual one keeps its display). Returns who was added and removed.
 */
export async function syncDirectoryMembershipRows(
  tx: Executor,
  group: { id: string; environmentId: string },
  directoryId: string,
  members: readonly { userId: string; display: string | null }[],
): Promise<{ added: string[]; removed: string[] }> {
  // One parameter for the kept ids and one for the rows, whatever their number: a group of 10,923
  // members or more passed Postgres's 65,535 parameters as one per value (a 500 on every PUT/PATCH).
  const keep = members.map((m) => m.userId);
  const removed = await tx
    .delete(groupMembers)
    .where(
      and(
        eq(groupMembers.groupId, group.id),
        eq(groupMembers.directoryId, directoryId),
        eq(groupMembers.source, "scim"),
        keep.length ? sql`not (${groupMembers.userId} = any(${arrayLiteral(keep)}::uuid[]))` : undefined,
      ),
    )
    .returning({ userId: groupMembers.userId });
  const upserted = members.length
    ? await tx.execute<{ user_id: string; inserted: boolean }>(sql`
        insert into ${groupMembers} (group_id, user_id, environment_id, source, directory_id, scim_display)
        select ${group.id}::uuid, v.user_id, ${group.environmentId}::uuid, 'scim', ${directoryId}::uuid, v.display
        from ${recordset(members.map((m) => ({ user_id: m.userId, display: m.display })), "user_id uuid, display text")}
        on conflict (group_id, user_id) do update
          set scim_display = case when ${groupMembers}.source = 'scim' then coalesce(excluded.scim_display, ${groupMembers}.scim_display) else ${groupMembers}.scim_display end
        returning user_id, (xmax = 0) as inserted`)
    : [];
  return { added: upserted.filter((u) => u.inserted).map((u) => u.user_id), removed: removed.map((r) => r.userId) };
}

/** Removes one user's memberships of the given source from the given groups (an SSO group sync); returns the groups left. */
export async function deleteUserMembershipRowsOfSource(tx: Executor, userId: string, source: MembershipSource, groupIds: readonly string[]): Promise<string[]> {
  if (groupIds.length === 0) return [];
  const removed = await tx
    .delete(groupMembers)
    .where(and(eq(groupMembers.userId, userId), eq(groupMembers.source, source), inArray(groupMembers.groupId, [...groupIds])))
    .returning({ groupId: groupMembers.groupId });
  return removed.map((r) => r.groupId);
}

/** The environments a user can enter (the scope an account-wide change of theirs needs). */
export async function environmentIdsOf(tx: Executor, userId: string): Promise<string[]> {
  const rows = await tx.select({ environmentId: environmentAccess.environmentId }).from(environmentAccess).where(eq(environmentAccess.userId, userId));
  return rows.map((r) => r.environmentId);
}
