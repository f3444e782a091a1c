import "server-only";
import { sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { arrayLiteral } from "@/db/records";
import { USER_SOURCES, USER_STATUSES, type UserSource, type UserStatus } from "@/db/enums";
import { isDomainError, ValidationError } from "@/lib/errors";
import { parseInput } from "@/lib/validation";
import { USER_SORTS, type UserSort } from "./list-params";
import { containsPattern } from "@/lib/domain/like";

// The users list behind the console table, the REST API and the CSV export: filtered, sorted and
// paginated in SQL by keyset (never OFFSET), with sort keys from a whitelist, each backed by a
// (key, id) index. Counting is exact up to COUNT_BOUND and estimated beyond, and says which.

export const COUNT_BOUND = 10_000;

/** Sort keys by column (each backed by a (key, id) index), and the type their cursor value casts to. */
const SORT_KEYS: Record<UserSort, { expr: SQL; cast: SQL }> = {
  name: { expr: sql.raw("lower(u.name)"), cast: sql`text` },
  email: { expr: sql.raw("lower(u.email)"), cast: sql`text` },
  status: { expr: sql.raw("u.status"), cast: sql`text` },
  source: { expr: sql.raw("u.source"), cast: sql`text` },
  environments: { expr: sql.raw("u.environment_keys"), cast: sql`text` },
  // The number of groups in the environment the list is seen from (see usersWhere for the index).
  groups: { expr: sql.raw("0"), cast: sql`int` },
  // Never-signed-in users sort as the oldest sign-in.
  lastSignIn: { expr: sql.raw("coalesce(u.last_sign_in_at, '-infinity'::timestamptz)"), cast: sql`timestamptz` },
  created: { expr: sql.raw("u.created_at"), cast: sql`timestamptz` },
};

const envKey = z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, "Not an environment key.");

export const listUsersInput = z.object({
  // The environment the list is seen from (scope "env", the groups column); optional for the API.
  environmentId: z.uuid().optional(),
  q: z.string().trim().max(200, "A search has at most 200 characters.").default(""),
  status: z.array(z.enum(USER_STATUSES)).max(USER_STATUSES.length).default([]),
  source: z.array(z.enum(USER_SOURCES)).max(USER_SOURCES.length).default([]),
  access: z.array(envKey).max(20).default([]),
  group: z.union([z.uuid("Not a valid group id."), z.literal("")]).default(""),
  scope: z.enum(["env", "all"]).default("env"),
  sort: z.enum(USER_SORTS).default("created"),
  dir: z.enum(["asc", "desc"]).default("desc"),
  size: z.coerce.number().int().min(1, "Page size is between 1 and 200.").max(200, "Page size is between 1 and 200.").default(50),
  after: z.string().max(500).default(""),
  before: z.string().max(500).default(""),
  withTotal: z.boolean().default(true),
});
export type ListUsersInput = z.input<typeof listUsersInput>;

export type UserListRow = {
  id: string;
  name: string;
  email: string;
  status: UserStatus;
  source: UserSource;
  environments: string[];
  groups: string[];
  lastSignInAt: string | null;
  createdAt: string;
};

export type UserList = {
  rows: UserListRow[];
  /** Cursor of the next page (after the last row), null on the last page. */
  next: string | null;
  /** Cursor of the previous page (before the first row), null on the first page. */
  prev: string | null;
  total: { value: number; exact: boolean } | null;
};

type Cursor = { k: string; id: string };

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.k, c.id])).toString("base64url");
}

function decodeCursor(value: string): Cursor {
  try {
    const [k, id] = JSON.parse(Buffer.from(value, "base64url").toString("utf8")) as unknown[];
    if (typeof k === "string" && typeof id === "string" && z.uuid().safeParse(id).success) return { k, id };
  } catch {
    // fall through
  }
  throw new ValidationError("The page cursor is not valid; start from the first page.", { cursor: ["Not a valid cursor."] });
}


/** A search matching at most this many users reads them by the trigram index first; more, by walking the list's order. */
export const SEARCH_MATCHES_FIRST_MAX = 2_000;
/**
 * A search first looks through about `rows` users spread over the table (whole pages, the same pages
 * each time while the table is unchanged); at least `dense` matches there, and one in 250 (0.4%),
 * mean a walk finds a page within a few thousand rows.
 */
const SEARCH_SAMPLE = { rows: 1_500, dense: 6, ratio: 250 };

/**
 * The search's condition, chosen by what the data says, never by the planner's estimates (which
 * flipped the plan between two freshly seeded databases):
 * - A fragment found often in a sample of the users (a common name, a shared domain) is found by
 *   walking the list's sort index and filtering, stopping at a page.
 * - Otherwise a probe reads at most SEARCH_MATCHES_FIRST_MAX + 1 matching ids through the trigram
 *   index; if that many or fewer, the list reads just those users and sorts them (a rare fragment, a
 *   full email); if more, it walks.
 * The probe can only be a bitmap scan of the trigram index. A fragment with an "@" is probed by what
 * precedes it (a local part is rare; the trigrams of a domain every user shares would each read the
 * whole index), the whole fragment checked on each row. The walk's test is `strpos(…) > 0`, which no
 * index or statistics cover: the planner takes its fixed default selectivity (a third) and keeps to
 * the order's index.
 */
async function searchCondition(q: string, executor: Executor): Promise<{ page: SQL; count: SQL }> {
  const contains = sql`strpos(lower(u.name || ' ' || u.email), lower(${q})) > 0`;
  // Counting many matches is bounded and reads the trigram index (its estimate, when shown, says "about").
  const walk = { page: contains, count: sql`lower(u.name || ' ' || u.email) like ${containsPattern(q)}` };
  const probe = probeFragment(q);
  if (!probe) return walk;
  // A part before an "@" (the end of a local part) is rare: straight to the probe, which still walks past its bound.
  if (!probe.endsWith("@") && (await commonInSample(contains, executor))) return walk;
  const ids = await trigramMatches(containsPattern(probe), contains, SEARCH_MATCHES_FIRST_MAX + 1, executor);
  if (ids.length > SEARCH_MATCHES_FIRST_MAX) return walk;
  const few = ids.length ? sql`u.id = any(${arrayLiteral(ids)}::uuid[])` : sql`false`;
  return { page: few, count: few };
}

/** Whether the search's test holds often in a sample of the users (see SEARCH_SAMPLE). */
async function commonInSample(contains: SQL, executor: Executor): Promise<boolean> {
  // The sample's share of the table comes from its size as last counted (1% when never counted).
  const [sample] = await executor.execute<{ rows: number; n: number }>(sql`
    select count(*)::int as rows, (count(*) filter (where ${contains}))::int as n
    from users u tablesample system ((
      select least(100, greatest(0.01, case when reltuples > 0 then ${SEARCH_SAMPLE.rows * 100} / reltuples else 1 end))::float4
      from pg_class where oid = 'users'::regclass)) repeatable (0)`);
  return sample!.n >= SEARCH_SAMPLE.dense && sample!.n * SEARCH_SAMPLE.ratio >= sample!.rows;
}

/** Three letters or digits in a row: a pattern with at least one trigram (without, the index would read itself whole). */
const hasTrigram = (s: string) => /[\p{L}\p{N}]{3}/u.test(s);

/** The part of a search the trigram index is asked for: up to its "@" when that part has a trigram, else all of it. */
function probeFragment(q: string): string | null {
  const at = q.indexOf("@");
  if (at > 0 && hasTrigram(q.slice(0, at))) return q.slice(0, at + 1);
  return hasTrigram(q) ? q : null;
}

/** Up to `limit` ids of users whose name or email contains the pattern and meet `check`, found through the trigram index only. */
async function trigramMatches(pattern: string, check: SQL, limit: number, executor: Executor): Promise<string[]> {
  // Inside a caller's transaction the settings are put back afterwards; otherwise COMMIT drops them.
  const nested = "rollback" in executor;
  return executor.transaction(async (tx) => {
    // Scans other than the bitmap one are switched off for this statement.
    const [before] = await tx.execute<{ seq: string; idx: string }>(sql`
      select seq, idx, set_config('enable_seqscan', 'off', true), set_config('enable_indexscan', 'off', true)
      from (select current_setting('enable_seqscan') as seq, current_setting('enable_indexscan') as idx offset 0) s`);
    const rows = await tx.execute<{ id: string }>(
      sql`select u.id from users u where lower(u.name || ' ' || u.email) like ${pattern} and ${check} limit ${limit}`,
    );
    if (nested) await tx.execute(sql`select set_config('enable_seqscan', ${before!.seq}, true), set_config('enable_indexscan', ${before!.idx}, true)`);
    return rows.map((r) => r.id);
  });
}

/** Groups up to this size are read member-first (their rows then sorted); larger ones by walking the sort index. */
export const MEMBER_FIRST_MAX = 50_000;

/** FROM and WHERE of a list, and the sort key when the FROM provides a better-indexed copy of it. */
export type UsersQuery = {
  from: SQL;
  where: SQL;
  /** The same rows as `where`, written for counting (a search's many matches through the trigram index). */
  countWhere: SQL;
  sortExpr?: SQL;
  idExpr?: SQL;
  /** The filtered group, as read once for the plan (the count reuses its size). */
  group?: { memberCount: number; environmentId: string };
};

/** Sorts whose keys group_members carries (copied by triggers) with a (group_id, key, user_id) index. */
const MEMBER_SORT_KEYS: Partial<Record<UserSort, SQL>> = {
  created: sql.raw("gm.user_created_at"),
  name: sql.raw("gm.user_name_key"),
};

/**
 * FROM and WHERE of a filtered users list (shared by the page, the count and the export).
 *
 * A group filter reads the group's memberships: in the default and name orders by walking the
 * membership index that carries the users' sort keys; otherwise member-first for groups of modest
 * size. Walking the users' sort index and probing membership instead would scan most of the table
 * when the group's members sort last (Postgres cannot see that correlation).
 */
export async function usersWhere(input: z.output<typeof listUsersInput>, executor: Executor = getDb()): Promise<UsersQuery> {
  const conditions: SQL[] = [];
  let from = sql`users u`;
  let sortExpr: SQL | undefined;
  let idExpr: SQL | undefined;
  let envImplied = false;
  let groupInfo: UsersQuery["group"];
  if (input.group) {
    const [group] = await executor.execute<{ n: number; environment_id: string }>(
      sql`select member_count as n, environment_id from groups where id = ${input.group}`,
    );
    if (group) groupInfo = { memberCount: group.n, environmentId: group.environment_id };
    // Membership implies access to the group's environment (revoking access removes memberships).
    envImplied = group?.environment_id === input.environmentId;
    const memberSort = input.sort === "groups" ? undefined : MEMBER_SORT_KEYS[input.sort];
    if (memberSort) {
      from = sql`group_members gm join users u on u.id = gm.user_id`;
      conditions.push(sql`gm.group_id = ${input.group}`);
      sortExpr = memberSort;
      idExpr = sql.raw("gm.user_id");
    } else if (group && group.n <= MEMBER_FIRST_MAX) {
      // OFFSET 0 keeps the planner from flattening the subquery back into a semi-join.
      from = sql`(select gm.user_id from group_members gm where gm.group_id = ${input.group} offset 0) m join users u on u.id = m.user_id`;
    } else {
      conditions.push(sql`exists (select 1 from group_members gm where gm.user_id = u.id and gm.group_id = ${input.group})`);
    }
  }
  if (input.sort === "groups") {
    if (input.scope === "env" && input.environmentId && !sortExpr) {
      // Walk the environment's access rows by their group count (indexed), joining each user.
      from = sql`environment_access a join ${from} on u.id = a.user_id`;
      conditions.push(sql`a.environment_id = ${input.environmentId}`);
      sortExpr = sql.raw("a.group_count");
      idExpr = sql.raw("a.user_id");
      envImplied = true;
    } else {
      // Seen account-wide, users without access count 0 groups (not indexed: a full sort).
      sortExpr = sql`coalesce((select a.group_count from environment_access a where a.user_id = u.id and a.environment_id = ${input.environmentId ?? null}), 0)`;
    }
  }
  if (input.scope === "env" && input.environmentId && !envImplied) {
    conditions.push(sql`exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${input.environmentId})`);
  }
  if (input.access.length) {
    const rows = await executor.execute<{ id: string; key: string }>(
      sql`select id, key from environments where key in ${input.access}`,
    );
    if (rows.length !== new Set(input.access).size) {
      throw new ValidationError("Unknown environment in the access filter.", { access: ["One or more environments do not exist."] });
    }
    for (const r of rows) {
      conditions.push(sql`exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${r.id})`);
    }
  }
  if (input.status.length) conditions.push(sql`u.status in ${input.status}`);
  if (input.source.length) conditions.push(sql`u.source in ${input.source}`);
  const search = input.q ? await searchCondition(input.q, executor) : null;
  const all = (last: SQL | undefined) => {
    const list = last ? [...conditions, last] : conditions;
    return list.length ? sql.join(list, sql` and `) : sql`true`;
  };
  return { from, where: all(search?.page), countWhere: all(search?.count), sortExpr, idExpr, group: groupInfo };
}

type PageRow = {
  id: string; name: string; email: string; status: UserStatus; source: UserSource;
  last_sign_in_at: string | null; created_at: string; sort_key: string;
  environments: string[]; groups: string[];
};

type ParsedInput = z.output<typeof listUsersInput>;

/** One page in the requested order: `size` rows plus whether more follow. */
async function queryPage(input: ParsedInput, { from, where, sortExpr, idExpr }: UsersQuery, size: number, executor: Executor) {
  const { expr, cast } = SORT_KEYS[input.sort];
  const key = sortExpr ?? expr;
  const id = idExpr ?? sql.raw("u.id");
  const backwards = Boolean(input.before);
  const cursor = input.after ? decodeCursor(input.after) : input.before ? decodeCursor(input.before) : null;
  // Walking backwards flips the comparison and the order; the rows are reversed afterwards.
  const descending = (input.dir === "desc") !== backwards;
  const cmp = descending ? sql`<` : sql`>`;
  const order = descending ? sql`desc` : sql`asc`;
  const keyset = cursor ? sql`and (${key}, ${id}) ${cmp} (${cursor.k}::${cast}, ${cursor.id}::uuid)` : sql``;

  const fetched = await executor.execute<PageRow>(sql`
    select p.id, p.name, p.email, p.status, p.source, p.sort_key,
      to_char(p.last_sign_in_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as last_sign_in_at,
      to_char(p.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as created_at,
      array(select e.key from environment_access a join environments e on e.id = a.environment_id
            where a.user_id = p.id order by e.position) as environments,
      array(select g.name from group_members gm join groups g on g.id = gm.group_id
            where gm.user_id = p.id and gm.environment_id = ${input.environmentId ?? null} and g.source <> 'system'
            order by lower(g.name) limit 20) as groups
    from (
      select u.id, u.name, u.email, u.status, u.source, u.last_sign_in_at, u.created_at, ${key} as sort_value, (${key})::text as sort_key
      from ${from}
      where ${where} ${keyset}
      order by ${key} ${order}, ${id} ${order}
      limit ${size + 1}
    ) p
    order by p.sort_value ${order}, p.id ${order}`);

  const rows = [...fetched];
  const hasMore = rows.length > size;
  if (hasMore) rows.length = size;
  if (backwards) rows.reverse();
  return { rows, hasMore, backwards, cursor };
}

const toCursor = (r: PageRow | undefined) => (r ? encodeCursor({ k: r.sort_key, id: r.id }) : null);

function toListRow(r: PageRow): UserListRow {
  return {
    id: r.id,
    name: r.name,
    email: r.email,
    status: r.status,
    source: r.source,
    environments: r.environments,
    groups: r.groups,
    lastSignInAt: r.last_sign_in_at,
    createdAt: r.created_at,
  };
}

export async function listUsers(rawInput: unknown, executor: Executor = getDb()): Promise<UserList> {
  const input = parseInput(listUsersInput, rawInput);
  if (input.after && input.before) throw new ValidationError("Use either after or before, not both.", { cursor: ["Use either after or before."] });
  const where = await usersWhere(input, executor);
  const { rows, hasMore, backwards, cursor } = await queryPage(input, where, input.size, executor);
  return {
    rows: rows.map(toListRow),
    next: backwards || hasMore ? toCursor(rows.at(-1)) : null,
    prev: backwards ? (hasMore ? toCursor(rows[0]) : null) : cursor ? toCursor(rows[0]) : null,
    total: input.withTotal ? await countUsers(input, where, executor) : null,
  };
}

/**
 * For pages: the list, or the reason a hand-edited or stale URL cannot be shown (a validation
 * problem is said, never turned into an empty table; anything else is a real error and throws).
 */
export async function listUsersForPage(rawInput: unknown): Promise<{ list: UserList; problem: null } | { list: null; problem: string }> {
  try {
    return { list: await listUsers(rawInput), problem: null };
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return { list: null, problem: error.message };
  }
}

/** Every user matching the filters, in the list's order, a chunk at a time (CSV export, jobs). */
export async function* iterateUsers(rawInput: unknown, chunk = 1000, executor: Executor = getDb()): AsyncGenerator<UserListRow[]> {
  const input = { ...parseInput(listUsersInput, rawInput), after: "", before: "" };
  const where = await usersWhere(input, executor);
  while (true) {
    const page = await queryPage(input, where, chunk, executor);
    if (page.rows.length) yield page.rows.map(toListRow);
    if (!page.hasMore) return;
    input.after = toCursor(page.rows.at(-1))!;
  }
}

/**
 * Exact up to COUNT_BOUND (one bounded scan), the planner's estimate beyond. The unfiltered list of
 * an environment and a group's members are exact at any size: Everyone and the group keep that count.
 */
export async function countUsers(
  input: z.output<typeof listUsersInput>,
  { from, countWhere: where, group }: UsersQuery,
  executor: Executor = getDb(),
): Promise<{ value: number; exact: boolean }> {
  const unfiltered = !input.q && !input.status.length && !input.source.length && !input.access.length && !input.group;
  if (unfiltered && input.scope === "env" && input.environmentId) {
    const [row] = await executor.execute<{ n: number }>(
      sql`select member_count as n from groups where environment_id = ${input.environmentId} and source = 'system'`,
    );
    return { value: row?.n ?? 0, exact: true };
  }
  // Only a group filter: the group keeps its exact size (its members can all enter its environment).
  const onlyGroup = input.group && !input.q && !input.status.length && !input.source.length && !input.access.length;
  if (onlyGroup && group && (input.scope === "all" || group.environmentId === input.environmentId)) {
    return { value: group.memberCount, exact: true };
  }
  // The planner's estimate first (about a millisecond): when it is far above the bound, counting
  // 10,000 rows only to say "about" would be wasted. Otherwise count exactly up to the bound.
  const [plan] = await executor.execute<{ "QUERY PLAN": [{ Plan: { "Plan Rows": number } }] }>(
    sql`explain (format json) select 1 from ${from} where ${where}`,
  );
  const estimate = Math.round(plan!["QUERY PLAN"][0].Plan["Plan Rows"]);
  if (estimate > COUNT_BOUND * 5) return { value: estimate, exact: false };
  const [bounded] = await executor.execute<{ n: number }>(
    sql`select count(*)::int as n from (select 1 from ${from} where ${where} limit ${COUNT_BOUND + 1}) t`,
  );
  if (bounded!.n <= COUNT_BOUND) return { value: bounded!.n, exact: true };
  return { value: Math.max(estimate, COUNT_BOUND + 1), exact: false };
}
