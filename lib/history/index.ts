import "server-only";
import { sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { FEATURE_LABELS, type Feature } from "@/db/enums";
import type { DomainContext } from "@/lib/auth/actor";
import { ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { emailSchema, parseInput, uuidSchema } from "@/lib/validation";

// Memberships and access as of a date, rebuilt from the membership ledger (migration 0019): the
// database writes a row whenever a membership, an environment access or a grant appears or goes,
// from any door and through any cascade. What held at T is, per (group, user), (user, environment)
// or grant, the last ledger row at or before T, when that row is an "add". Names are as they were.

export const asOfInput = z
  .object({
    environmentId: uuidSchema,
    subject: z.enum(["group", "user"], { error: "Choose a group or a user." }),
    group: uuidSchema.optional(),
    user: emailSchema.optional(),
    // A time without a zone (the form's datetime-local) is read as UTC.
    at: z.preprocess(
      (v) => (typeof v === "string" && v && !/(Z|[+-]\d\d:?\d\d)$/.test(v) ? `${v}Z` : v),
      z.coerce.date({ error: "Enter a date and time." }).refine((d) => !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 1, "Enter a date and time (from year 1)."),
    ),
  })
  .refine((v) => v.subject !== "group" || v.group, { message: "Choose a group.", path: ["group"] })
  .refine((v) => v.subject !== "user" || v.user, { message: "Enter the user's email.", path: ["user"] })
  .refine((v) => v.at.getTime() <= Date.now() + 60_000, { message: "Pick a time that has passed.", path: ["at"] });

export type HistoryRow = {
  kind: "member" | "access" | "grant";
  userId: string | null;
  userEmail: string | null;
  userName: string | null;
  groupId: string | null;
  groupName: string | null;
  feature: string | null;
  resourceName: string | null;
  /** For a user's grants: "direct", or the group it came through. */
  via: string | null;
  source: string | null;
  since: Date;
};

export type AsOf = { at: Date; subject: { type: "group" | "user"; id: string; label: string }; rows: HistoryRow[] };

type LedgerRow = {
  kind: "member" | "access" | "grant";
  user_id: string | null;
  user_email: string | null;
  user_name: string | null;
  group_id: string | null;
  group_name: string | null;
  feature: string | null;
  resource_name: string | null;
  source: string | null;
  at: Date | string;
};

const toRow = (r: LedgerRow, via: string | null = null): HistoryRow => ({
  kind: r.kind,
  userId: r.user_id,
  userEmail: r.user_email,
  userName: r.user_name,
  groupId: r.group_id,
  groupName: r.group_name,
  feature: r.feature ? (FEATURE_LABELS[r.feature as Feature] ?? r.feature) : null,
  resourceName: r.resource_name,
  via,
  source: r.source,
  since: new Date(r.at),
});

// The latest ledger row per key at or before `at`, kept when it is an "add".
function standing(where: ReturnType<typeof sql>, key: ReturnType<typeof sql>, at: Date) {
  return sql`select * from (
      select distinct on (${key}) kind, op, user_id, user_email, user_name, group_id, group_name, feature, resource_name, source, at, grant_id
      from membership_ledger where ${where} and at <= ${at.toISOString()}::timestamptz
      order by ${key}, id desc
    ) latest where op = 'add'`;
}

/** Who was in a group, and what the group was granted, at `at`. */
async function groupAsOf(environmentId: string, groupId: string, at: Date, db: Executor) {
  const members = await db.execute<LedgerRow>(
    sql`${standing(sql`kind = 'member' and group_id = ${groupId} and environment_id = ${environmentId}`, sql`user_id`, at)} order by user_email`,
  );
  const grants = await db.execute<LedgerRow>(
    sql`${standing(sql`kind = 'grant' and group_id = ${groupId} and environment_id = ${environmentId}`, sql`grant_id`, at)} order by feature, resource_name nulls first`,
  );
  return [...members.map((r) => toRow(r)), ...grants.map((r) => toRow(r))];
}

/** Where a user could enter, their groups, and their grants (direct or through a group) at `at`. */
async function userAsOf(environmentId: string, userId: string, at: Date, db: Executor) {
  const access = await db.execute<LedgerRow>(standing(sql`kind = 'access' and user_id = ${userId} and environment_id = ${environmentId}`, sql`environment_id`, at));
  const groupsThen = await db.execute<LedgerRow>(
    sql`${standing(sql`kind = 'member' and user_id = ${userId} and environment_id = ${environmentId}`, sql`group_id`, at)} order by group_name`,
  );
  const groupIds = groupsThen.map((g) => g.group_id!);
  const grants = await db.execute<LedgerRow>(
    sql`${standing(
      sql`kind = 'grant' and environment_id = ${environmentId} and (user_id = ${userId}${groupIds.length ? sql` or group_id in (${sql.join(groupIds.map((g) => sql`${g}::uuid`), sql`, `)})` : sql``})`,
      sql`grant_id`,
      at,
    )} order by feature, resource_name nulls first`,
  );
  return [
    ...access.map((r) => toRow(r)),
    ...groupsThen.map((r) => toRow(r)),
    ...grants.map((r) => toRow(r, r.group_id ? `group ${r.group_name}` : "direct")),
  ];
}

/** Memberships and access of a group or a user as of a past time, from the ledger. */
export async function membershipsAsOf(ctx: DomainContext, input: unknown, db: Executor = getDb()): Promise<AsOf> {
  const data = parseInput(asOfInput, input);
  authorize(ctx.actor, "memberships", "read", [data.environmentId]);
  if (data.subject === "group") {
    // The group as it is, or (deleted) under its last recorded name.
    const [known] = await db.execute<{ name: string }>(
      sql`select name from groups where id = ${data.group!} and environment_id = ${data.environmentId}
          union all
          (select group_name from membership_ledger where group_id = ${data.group!} and environment_id = ${data.environmentId} and group_name is not null order by id desc limit 1)
          limit 1`,
    );
    if (!known) throw ValidationError.field("group", "That group has no history in this environment.");
    return { at: data.at, subject: { type: "group", id: data.group!, label: known.name }, rows: await groupAsOf(data.environmentId, data.group!, data.at, db) };
  }
  // By email as it was recorded, so a user since renamed or deleted is still found.
  const [known] = await db.execute<{ id: string; email: string }>(
    sql`select user_id as id, user_email as email from membership_ledger where lower(user_email) = lower(${data.user!}) and user_email is not null and environment_id = ${data.environmentId} order by id desc limit 1`,
  );
  if (!known) throw ValidationError.field("user", "No user with that email has any history in this environment.");
  return { at: data.at, subject: { type: "user", id: known.id, label: known.email }, rows: await userAsOf(data.environmentId, known.id, data.at, db) };
}

/** The groups that ever existed in an environment (deleted ones too), for choosing a subject. */
export async function groupsInHistory(environmentId: string, db: Executor = getDb()): Promise<{ id: string; name: string }[]> {
  return db.execute<{ id: string; name: string }>(
    sql`select distinct on (group_id) group_id as id, group_name as name from membership_ledger
        where environment_id = ${environmentId} and group_id is not null and group_name is not null order by group_id, id desc`,
  ).then((rows) => [...rows].sort((a, b) => a.name.localeCompare(b.name)));
}

export const HISTORY_CSV_HEADER = ["kind", "user_email", "user_name", "group", "feature", "resource", "via", "source", "since"];
export const historyCsvRow = (r: HistoryRow) => [r.kind, r.userEmail ?? "", r.userName ?? "", r.groupName ?? "", r.feature ?? "", r.resourceName ?? "", r.via ?? "", r.source ?? "", r.since.toISOString()];
