import "server-only";
import { eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import type { AccessSource, UserSource } from "@/db/enums";
import { groups, users, type User } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit, type AuditEntry } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { environmentKeysOf, requireEnvironments } from "@/lib/environments";
import { NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { environmentIdsOf, insertAccessRows, insertMembershipPairs } from "@/lib/groups/membership-rows";
import { voidPasswordLinks } from "@/lib/end-user/password-accounts";
import { insertUserRows, updateUserProfileRow } from "./rows";
import { deleteUsers, grantEnvironmentToUsers, revokeEnvironmentFromUsers, setUsersStatus, throwIfFailed } from "./bulk";
import { authorize } from "@/lib/permissions";
import { emailSchema, parseInput, personNameSchema, uuidSchema } from "@/lib/validation";

export const createUserInput = z.object({
  name: personNameSchema,
  email: emailSchema,
  status: z.enum(["active", "invited"]).default("active"),
  environmentIds: z.array(uuidSchema).max(100).default([]),
  groupIds: z.array(uuidSchema).max(1000).default([]),
});
export type CreateUserInput = z.input<typeof createUserInput>;

export const updateUserInput = z
  .object({
    name: personNameSchema.optional(),
    email: emailSchema.optional(),
    // Optimistic concurrency: the version the editor saw (ETag / If-Match).
    expectedVersion: z.number().int().positive().optional(),
  })
  .refine((v) => v.name !== undefined || v.email !== undefined, { message: "Nothing to change.", path: ["_form"] });
export type UpdateUserInput = z.input<typeof updateUserInput>;

const accessInput = z.object({ userId: uuidSchema, environmentId: uuidSchema });

type UserSnapshot = Pick<User, "id" | "email" | "name" | "status" | "source" | "version">;

const snapshot = (u: User): UserSnapshot => ({
  id: u.id,
  email: u.email,
  name: u.name,
  status: u.status,
  source: u.source,
  version: u.version,
});

/**
 * The one shape of a `user.create` audit entry, whichever door created the user (console, REST,
 * SCIM, JIT): the user as stored, plus what the door adds (environments, groups, directory).
 */
export function userCreatedEntry(user: User, extra: Record<string, unknown>, environment?: { id: string; key: string }): AuditEntry {
  return { action: "user.create", targetType: "user", targetId: user.id, targetLabel: user.email, ...(environment ? { environment } : {}), after: { ...snapshot(user), ...extra } };
}

/** The user, locked for update, with the environments it can enter (for scoped permission checks). */
async function lockUser(tx: Tx, userId: string): Promise<{ user: User; environmentIds: string[] }> {
  const [user] = await tx.select().from(users).where(eq(users.id, userId)).for("update");
  if (!user) throw new NotFoundError("User not found.");
  return { user, environmentIds: await environmentIdsOf(tx, userId) };
}

/**
 * Creates a user, grants the environments (joining each Everyone group) and adds the groups,
 * which must belong to the granted environments.
 */
export async function createUser(
  ctx: DomainContext,
  input: unknown,
  options: { source?: UserSource; accessSource?: AccessSource } = {},
): Promise<User> {
  const data = parseInput(createUserInput, input);
  const environmentIds = [...new Set(data.environmentIds)];
  authorize(ctx.actor, "users", "write", environmentIds);
  return inTransaction(async (tx) => {
    const envs = await requireEnvironments(tx, environmentIds);
    const chosenGroups = await groupsForNewUser(tx, data.groupIds, environmentIds);
    const [user] = await insertUserRows(tx, [
      { name: data.name, email: data.email, status: data.status, source: options.source ?? "manual", environmentKeys: environmentKeysOf(envs) },
    ]);
    for (const env of envs) await insertAccessRows(tx, [user!.id], env.id, options.accessSource ?? "manual");
    await insertMembershipPairs(tx, chosenGroups.map((g) => ({ groupId: g.id, userId: user!.id, environmentId: g.environmentId })), "manual");
    await recordAudit(
      tx,
      ctx,
      userCreatedEntry(user!, {
        environments: envs.map((e) => e.key),
        groups: chosenGroups.map((g) => `${envs.find((e) => e.id === g.environmentId)?.key}/${g.name}`),
      }, // A user of one environment is that environment's event (its scoped readers see it, as SCIM's).
      envs.length === 1 ? envs[0] : undefined),
    );
    return user!;
  });
}

async function groupsForNewUser(tx: Executor, groupIds: readonly string[], environmentIds: readonly string[]) {
  const ids = [...new Set(groupIds)];
  if (ids.length === 0) return [];
  const rows = await tx
    .select({ id: groups.id, name: groups.name, environmentId: groups.environmentId, source: groups.source })
    .from(groups)
    .where(inArray(groups.id, ids));
  const problems: string[] = [];
  if (rows.length !== ids.length) problems.push("One or more groups do not exist.");
  for (const g of rows) {
    if (!environmentIds.includes(g.environmentId)) problems.push(`“${g.name}” is in an environment the user is not granted.`);
  }
  if (problems.length) throw new ValidationError(problems[0]!, { groupIds: problems });
  // Everyone is joined through environment access, not chosen.
  return rows.filter((g) => g.source !== "system");
}

export async function updateUser(ctx: DomainContext, userId: string, input: unknown): Promise<User> {
  const id = parseInput(uuidSchema, userId);
  const data = parseInput(updateUserInput, input);
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const { user, environmentIds } = await lockUser(tx, id);
    authorize(ctx.actor, "users", "write", environmentIds);
    if (data.expectedVersion !== undefined && data.expectedVersion !== user.version) {
      throw new VersionConflictError("This user was changed by someone else; reload and try again.");
    }
    const changes: Partial<Pick<User, "name" | "email">> = {};
    if (data.name !== undefined && data.name !== user.name) changes.name = data.name;
    if (data.email !== undefined && data.email !== user.email) changes.email = data.email;
    if (Object.keys(changes).length === 0) return user;
    const updated = await updateUserProfileRow(tx, id, changes);
    // Links mailed to the old address must not set the password of (and prove) the new one.
    if (changes.email) await voidPasswordLinks(tx, id);
    await recordAudit(tx, ctx, {
      action: "user.update",
      targetType: "user",
      targetId: id,
      targetLabel: updated.email,
      before: Object.fromEntries(Object.keys(changes).map((k) => [k, user[k as keyof typeof changes]])),
      // A changed email is unproven until the person uses a link sent to it (or an IdP or directory asserts it).
      after: changes.email ? { ...changes, emailVerified: false } : changes,
    });
    return updated;
  });
}

/** Suspends (ending every session at once) or reactivates a user. */
export async function setUserStatus(ctx: DomainContext, userId: string, status: "suspended" | "active"): Promise<User> {
  const id = parseInput(uuidSchema, userId);
  throwIfFailed(await setUsersStatus(ctx, [id], status));
  const [user] = await getDb().select().from(users).where(eq(users.id, id));
  return user!;
}

export const suspendUser = (ctx: DomainContext, userId: string) => setUserStatus(ctx, userId, "suspended");
export const reactivateUser = (ctx: DomainContext, userId: string) => setUserStatus(ctx, userId, "active");

/** Deletes a user with every access, membership, grant and session (cascades); the trail keeps a snapshot. */
export async function deleteUser(ctx: DomainContext, userId: string): Promise<void> {
  throwIfFailed(await deleteUsers(ctx, [parseInput(uuidSchema, userId)]));
}

/** Lets the user enter the environment (joining its Everyone group). False when it already could. */
export async function grantEnvironment(
  ctx: DomainContext,
  input: unknown,
  options: { source?: AccessSource; directoryId?: string } = {},
): Promise<boolean> {
  const { userId, environmentId } = parseInput(accessInput, input);
  const result = await grantEnvironmentToUsers(ctx, { environmentId, userIds: [userId] }, options);
  throwIfFailed(result);
  return result.changed.length > 0;
}

/**
 * Revokes the environment: the user leaves every group there (Everyone included) and their
 * sessions in it end at once. False when the user had no access.
 */
export async function revokeEnvironment(ctx: DomainContext, input: unknown): Promise<boolean> {
  const { userId, environmentId } = parseInput(accessInput, input);
  const result = await revokeEnvironmentFromUsers(ctx, { environmentId, userIds: [userId] });
  throwIfFailed(result);
  return result.changed.length > 0;
}
