import "server-only";
import { inArray, sql } from "drizzle-orm";
import { z } from "zod";
import type { Tx } from "@/db/client";
import type { AccessSource } from "@/db/enums";
import { environments, users, type User } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { closedRequestEntries } from "@/lib/access-requests/closing";
import { recordAuditMany, type AuditEntry } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { addMembers, removeMembers } from "@/lib/groups";
import { deleteAccessRows, insertAccessRows } from "@/lib/groups/membership-rows";
import { deleteUserRows, setUserStatusRows } from "./rows";
import { authorize, denialReason, type PermissionResource } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Changes to many users at once, set-based: a few statements per call whatever the count, one
// transaction, one audit row per user changed. The result says per user what changed, what was
// already so, and what failed and why (unknown user, outside the caller's scope).

export type BulkFailure = { userId: string; reason: string; code: "not_found" | "forbidden" | "invalid" };
export type BulkResult = { changed: string[]; unchanged: string[]; failed: BulkFailure[] };

export const MAX_BULK_USERS = 10_000;
const userIdsSchema = z
  .array(uuidSchema)
  .min(1, "Choose at least one user.")
  .max(MAX_BULK_USERS, `At most ${MAX_BULK_USERS.toLocaleString("en")} users at once; use "all matching" for more.`);

type Locked = { user: User; environmentIds: string[] };

/** Locks the users (in id order, so concurrent bulk changes cannot deadlock) with their environments. */
async function lockUsers(tx: Tx, ids: readonly string[]): Promise<Map<string, Locked>> {
  const rows = await tx
    .select({
      user: users,
      environmentIds: sql<string[]>`array(select a.environment_id from environment_access a where a.user_id = ${users.id})`,
    })
    .from(users)
    .where(inArray(users.id, [...ids]))
    .orderBy(users.id)
    .for("update", { of: users });
  return new Map(rows.map((r) => [r.user.id, { user: r.user, environmentIds: r.environmentIds }]));
}

/** Splits the requested users into those the actor may change and per-user failures. */
function permitted(ctx: DomainContext, ids: readonly string[], locked: Map<string, Locked>, resource: PermissionResource, envScope?: string[]) {
  const allowed: Locked[] = [];
  const failed: BulkFailure[] = [];
  for (const id of ids) {
    const entry = locked.get(id);
    if (!entry) {
      failed.push({ userId: id, reason: "User not found.", code: "not_found" });
      continue;
    }
    const reason = denialReason(ctx.actor, resource, "write", envScope ?? entry.environmentIds);
    if (reason) failed.push({ userId: id, reason, code: "forbidden" });
    else allowed.push(entry);
  }
  return { allowed, failed };
}

/** Suspends (ending every session at once) or reactivates users. */
export async function setUsersStatus(ctx: DomainContext, rawIds: unknown, status: "suspended" | "active"): Promise<BulkResult> {
  const ids = [...new Set(parseInput(userIdsSchema, rawIds))];
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const { allowed, failed } = permitted(ctx, ids, await lockUsers(tx, ids), "users");
    const toChange = allowed.filter((l) => l.user.status !== status);
    const changed = toChange.map((l) => l.user.id);
    if (changed.length) {
      const suspend = status === "suspended";
      await setUserStatusRows(tx, changed, status);
      await recordAuditMany(
        tx,
        ctx,
        toChange.map(({ user }) => ({
          action: suspend ? "user.suspend" : "user.reactivate",
          targetType: "user",
          targetId: user.id,
          targetLabel: user.email,
          before: { status: user.status },
          after: { status },
        })),
      );
    }
    const changedSet = new Set(changed);
    return { changed, unchanged: allowed.filter((l) => !changedSet.has(l.user.id)).map((l) => l.user.id), failed };
  });
}

/** Deletes users with every access, membership, grant and session; the trail keeps a snapshot of each. */
export async function deleteUsers(ctx: DomainContext, rawIds: unknown): Promise<BulkResult> {
  const ids = [...new Set(parseInput(userIdsSchema, rawIds))];
  authorize(ctx.actor, "users", "write", "any");
  return inTransaction(async (tx) => {
    const { allowed, failed } = permitted(ctx, ids, await lockUsers(tx, ids), "users");
    const changed = allowed.map((l) => l.user.id);
    if (changed.length) {
      const closed = await closedRequestEntries(tx, { userIds: changed }, "The user was deleted.");
      await deleteUserRows(tx, changed);
      await recordAuditMany(tx, ctx, [
        ...allowed.map(
          ({ user, environmentIds }): AuditEntry => ({
            action: "user.delete",
            targetType: "user",
            targetId: user.id,
            targetLabel: user.email,
            before: { id: user.id, email: user.email, name: user.name, status: user.status, source: user.source, version: user.version, environmentIds },
          }),
        ),
        ...closed,
      ]);
    }
    return { changed, unchanged: [], failed };
  });
}

const environmentUsersInput = z.object({ environmentId: uuidSchema, userIds: userIdsSchema });

/** Lets the users enter the environment (joining its Everyone group). */
export async function grantEnvironmentToUsers(
  ctx: DomainContext,
  input: unknown,
  options: { source?: AccessSource; directoryId?: string } = {},
): Promise<BulkResult> {
  return changeEnvironmentAccess(ctx, input, "grant", options);
}

/** Revokes the environment: the users leave every group there and their sessions in it end at once. */
export async function revokeEnvironmentFromUsers(ctx: DomainContext, input: unknown): Promise<BulkResult> {
  return changeEnvironmentAccess(ctx, input, "revoke", {});
}

async function changeEnvironmentAccess(
  ctx: DomainContext,
  input: unknown,
  op: "grant" | "revoke",
  options: { source?: AccessSource; directoryId?: string },
): Promise<BulkResult> {
  const data = parseInput(environmentUsersInput, input);
  authorize(ctx.actor, "environment_access", "write", [data.environmentId]);
  return inTransaction((tx) => changeEnvironmentAccessIn(tx, ctx, data, op, options));
}

/** revokeEnvironmentFromUsers inside the caller's transaction (an access review's closing). */
export function revokeEnvironmentFromUsersIn(tx: Tx, ctx: DomainContext, input: unknown): Promise<BulkResult> {
  const data = parseInput(environmentUsersInput, input);
  authorize(ctx.actor, "environment_access", "write", [data.environmentId]);
  return changeEnvironmentAccessIn(tx, ctx, data, "revoke", {});
}

/**
 * The one shape of an environment grant, revocation or held-back grant in the trail, whichever door
 * made it (an admin, the API, a directory, a JIT sign-in): `user.environment.<op>` in the
 * environment, its key in `after` (a grant) or `before` (a revocation), beside what the door adds.
 */
export function environmentAccessEntry(
  op: "grant" | "revoke" | "grant_excluded",
  user: { id: string; email: string },
  environment: { id: string; key: string },
  detail: { before?: Record<string, unknown>; after?: Record<string, unknown> } = {},
): AuditEntry {
  const key = { environment: environment.key };
  return {
    action: `user.environment.${op}`,
    targetType: "user",
    targetId: user.id,
    targetLabel: user.email,
    environment,
    ...(op === "revoke" ? { before: { ...key, ...detail.before }, ...(detail.after ? { after: detail.after } : {}) } : { after: { ...key, ...detail.after } }),
  };
}

async function changeEnvironmentAccessIn(
  tx: Tx,
  ctx: DomainContext,
  data: z.output<typeof environmentUsersInput>,
  op: "grant" | "revoke",
  options: { source?: AccessSource; directoryId?: string },
): Promise<BulkResult> {
  const ids = [...new Set(data.userIds)];
  const env = await requireEnvironment(tx, data.environmentId);
  const locked = await lockUsers(tx, ids);
  const permittedHere = permitted(ctx, ids, locked, "environment_access", [env.id]);
  const { failed } = permittedHere;
  let { allowed } = permittedHere;
  if (op === "grant") {
    // A grant changes who manages the account (an account-wide change needs scope over every
    // environment the user can enter): only an actor who may already change the whole account may
    // grant. Otherwise a DEV admin granting DEV would take over a user no environment holds (rename,
    // email, suspension), or put a PROD user out of their PROD admin's reach. The CSV import holds
    // the same rule (lib/import/csv-import.ts).
    // (One who can already enter it is no change: answered unchanged below, as before.)
    const outside = allowed.filter((l) => !l.environmentIds.includes(env.id) && denialReason(ctx.actor, "users", "write", l.environmentIds));
    if (outside.length) {
      const keys = new Map((await tx.select({ id: environments.id, key: environments.key }).from(environments)).map((e) => [e.id, e.key]));
      // A token limited to environments reads nothing of a user outside them: it is told no more.
      const reads = !(ctx.actor.type === "api_token" && ctx.actor.environmentIds);
      for (const { user, environmentIds } of outside) {
        const others = environmentIds.filter((id) => denialReason(ctx.actor, "environment_access", "write", [id])).map((id) => keys.get(id) ?? id);
        failed.push({
          userId: user.id,
          code: "forbidden",
          reason: !reads
            ? denialReason(ctx.actor, "users", "write", environmentIds)!
            : others.length
            ? `${user.email} can also enter ${others.join(", ")}, outside your scope: granting ${env.key} would change who manages their account, so it needs an admin of ${others.length > 1 ? "those environments" : others[0]} too (or an owner or admin).`
            : `${user.email} can enter no environment yet: their account is account-wide, so granting ${env.key} needs an owner or admin.`,
        });
      }
      allowed = allowed.filter((l) => !outside.includes(l));
    }
  }
  const allowedIds = allowed.map((l) => l.user.id);
  const before =
    op === "revoke"
      ? await tx.execute<{ user_id: string; groups: string[] }>(sql`
          select gm.user_id, array_agg(g.name order by lower(g.name)) as groups
          from group_members gm join groups g on g.id = gm.group_id
          where gm.environment_id = ${env.id} and gm.user_id in ${allowedIds.length ? allowedIds : [null]}
          group by gm.user_id`)
      : [];
  const groupsBefore = new Map(before.map((r) => [r.user_id, r.groups]));
  const changed =
    op === "grant"
      ? await insertAccessRows(tx, allowedIds, env.id, options.source ?? "manual", options.directoryId ?? null)
      : await deleteAccessRows(tx, allowedIds, env.id);
  const changedSet = new Set(changed);
  await recordAuditMany(
    tx,
    ctx,
    changed.map((id) =>
      environmentAccessEntry(op, locked.get(id)!.user, env, op === "grant" ? { after: { source: options.source ?? "manual" } } : { before: { groups: groupsBefore.get(id) ?? [] } }),
    ),
  );
  return { changed, unchanged: allowedIds.filter((id) => !changedSet.has(id)), failed };
}

export const BULK_ACTIONS = [
  "add_to_group",
  "remove_from_group",
  "grant_environment",
  "revoke_environment",
  "suspend",
  "reactivate",
  "delete",
] as const;
export type BulkAction = (typeof BULK_ACTIONS)[number];

export const bulkActionInput = z.discriminatedUnion("action", [
  z.object({ action: z.enum(["add_to_group", "remove_from_group"]), groupId: uuidSchema, userIds: userIdsSchema }),
  z.object({ action: z.enum(["grant_environment", "revoke_environment"]), environmentId: uuidSchema, userIds: userIdsSchema }),
  z.object({ action: z.enum(["suspend", "reactivate", "delete"]), userIds: userIdsSchema }),
]);

/** One entry point for the table's bulk actions (and the background job for "all matching"). */
export async function runBulkAction(ctx: DomainContext, input: unknown): Promise<BulkResult> {
  const data = parseInput(bulkActionInput, input);
  switch (data.action) {
    case "add_to_group":
    case "remove_from_group": {
      const r = data.action === "add_to_group" ? await addMembers(ctx, data) : await removeMembers(ctx, data);
      return { changed: r.changed, unchanged: r.unchanged, failed: r.failed.map((f) => ({ ...f, code: "invalid" as const })) };
    }
    case "grant_environment":
      return grantEnvironmentToUsers(ctx, data);
    case "revoke_environment":
      return revokeEnvironmentFromUsers(ctx, data);
    case "suspend":
      return setUsersStatus(ctx, data.userIds, "suspended");
    case "reactivate":
      return setUsersStatus(ctx, data.userIds, "active");
    case "delete":
      return deleteUsers(ctx, data.userIds);
  }
}

/** For single-user callers: a per-user failure becomes the error a single request expects. */
export function throwIfFailed(result: BulkResult): void {
  const failure = result.failed[0];
  if (!failure) return;
  if (failure.code === "not_found") throw new NotFoundError(failure.reason);
  if (failure.code === "forbidden") throw new ForbiddenError(failure.reason);
  throw ValidationError.field("userId", failure.reason);
}
