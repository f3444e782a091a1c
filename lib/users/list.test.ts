import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { ValidationError } from "@/lib/errors";
import { addMembers, createGroup } from "@/lib/groups";
import { insertAccessRows } from "@/lib/groups/membership-rows";
import { COUNT_BOUND, listUsers } from "./list";
import { USER_SORTS } from "./list-params";

let env: { dev: Environment; test: Environment; prod: Environment };
let groupId: string;
const N = 137;

beforeAll(async () => {
  env = await createEnvironments();
  const db = getDb();
  // Users with ties on every sort key (names repeat, statuses and sign-in times cluster) so that
  // the id tie-breaker is exercised, including never-signed-in users.
  await db.execute(sql`
    insert into users (email, name, status, source, last_sign_in_at, created_at)
    select 'user' || i || '@example.com',
      (array['Ada Smith','Bob Jones','Cy Smithers','Di Brown'])[1 + i % 4],
      (array['active','invited','suspended','deprovisioned'])[1 + i % 4],
      (array['manual','jit','scim','import'])[1 + (i / 3) % 4],
      case when i % 5 = 0 then null else timestamptz '2026-01-01' + (i % 7) * interval '1 day' end,
      timestamptz '2025-01-01' + (i % 11) * interval '1 hour'
    from generate_series(1, ${N}) i`);
  const ids = (await db.execute<{ id: string }>(sql`select id from users order by email`)).map((r) => r.id);
  await insertAccessRows(db, ids, env.dev.id, "manual");
  await insertAccessRows(db, ids.filter((_, i) => i % 3 === 0), env.prod.id, "manual");
  const g = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Chosen" });
  groupId = g.id;
  await addMembers(systemCtx, { groupId, userIds: ids.filter((_, i) => i % 4 === 1) });
});

async function walk(params: Record<string, unknown>, size = 25) {
  const seen: string[] = [];
  let after = "";
  for (let i = 0; i < 100; i++) {
    const page = await listUsers({ environmentId: env.dev.id, size, after, withTotal: false, ...params });
    seen.push(...page.rows.map((r) => r.id));
    if (!page.next) break;
    after = page.next;
  }
  return seen;
}

async function reference(orderBy: string, where = "true") {
  const rows = await getDb().execute<{ id: string }>(sql.raw(`select u.id from users u where ${where} order by ${orderBy}`));
  return rows.map((r) => r.id);
}

const ORDER: Record<(typeof USER_SORTS)[number], string> = {
  environments: "u.environment_keys",
  get groups() {
    return `coalesce((select a.group_count from environment_access a where a.user_id = u.id and a.environment_id = '${env.dev.id}'), 0)`;
  },
  name: "lower(u.name)",
  email: "lower(u.email)",
  status: "u.status",
  source: "u.source",
  lastSignIn: "coalesce(u.last_sign_in_at, '-infinity'::timestamptz)",
  created: "u.created_at",
};

describe("listUsers keyset pagination", () => {
  for (const sort of USER_SORTS) {
    for (const dir of ["asc", "desc"] as const) {
      it(`walks every user exactly once sorted by ${sort} ${dir}`, async () => {
        const ids = await walk({ sort, dir, scope: "all" });
        expect(ids).toEqual(await reference(`${ORDER[sort]} ${dir}, u.id ${dir}`));
      });
    }
  }

  it("sorts an environment's users by their number of groups there, through the access index", async () => {
    const inDev = `exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = '${env.dev.id}')`;
    for (const dir of ["asc", "desc"] as const) {
      expect(await walk({ sort: "groups", dir }, 9)).toEqual(await reference(`${ORDER.groups} ${dir}, u.id ${dir}`, inDev));
    }
    const [{ keys } = { keys: "" }] = await getDb().execute<{ keys: string }>(sql`select environment_keys as keys from users u where ${sql.raw(inDev)} and exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${env.prod.id}) limit 1`);
    expect(keys).toBe("dev,prod");
  });

  it("walks back from the last page to the first with the before cursor", async () => {
    const forward: string[][] = [];
    let page = await listUsers({ environmentId: env.dev.id, size: 25, sort: "name", dir: "asc" });
    forward.push(page.rows.map((r) => r.id));
    expect(page.prev).toBeNull();
    while (page.next) {
      page = await listUsers({ environmentId: env.dev.id, size: 25, sort: "name", dir: "asc", after: page.next });
      forward.push(page.rows.map((r) => r.id));
    }
    const backward: string[][] = [page.rows.map((r) => r.id)];
    while (page.prev) {
      page = await listUsers({ environmentId: env.dev.id, size: 25, sort: "name", dir: "asc", before: page.prev });
      backward.unshift(page.rows.map((r) => r.id));
    }
    expect(backward).toEqual(forward);
  });
});

describe("listUsers filters and counts", () => {
  it("scopes to the environment and filters by access, group, status, source and substring", async () => {
    expect((await walk({ scope: "env" })).length).toBe(N);
    const prodIds = await walk({ access: ["prod"] });
    expect(prodIds.length).toBe(Math.ceil(N / 3));
    const inGroup = await walk({ group: groupId, sort: "email", dir: "asc" });
    expect(inGroup).toEqual(await reference("lower(u.email) asc, u.id asc", `exists (select 1 from group_members gm where gm.user_id = u.id and gm.group_id = '${groupId}')`));
    const suspendedImports = await walk({ status: ["suspended"], source: ["import", "scim"] });
    expect(suspendedImports.sort()).toEqual((await reference("u.id", "u.status = 'suspended' and u.source in ('import','scim')")).sort());
    const smi = await walk({ q: "SMI" });
    expect(smi.sort()).toEqual((await reference("u.id", "u.name ilike '%smi%'")).sort());
    // LIKE wildcards in the search are literal.
    expect(await walk({ q: "%" })).toEqual([]);
  });

  it("walks a group's members through the membership index in created and name order, renames included", async () => {
    const member = `exists (select 1 from group_members gm where gm.user_id = u.id and gm.group_id = '${groupId}')`;
    for (const [sort, dir, order] of [
      ["created", "desc", "u.created_at desc, u.id desc"],
      ["created", "asc", "u.created_at asc, u.id asc"],
      ["name", "asc", "lower(u.name) asc, u.id asc"],
      ["name", "desc", "lower(u.name) desc, u.id desc"],
    ] as const) {
      expect(await walk({ group: groupId, sort, dir }, 7)).toEqual(await reference(order, member));
    }
    // A rename reaches the membership's copy of the sort key (trigger), so the order stays right.
    const [first] = await reference("lower(u.name) asc, u.id asc", member);
    await getDb().execute(sql`update users set name = 'Zed Last' where id = ${first}`);
    const renamed = await walk({ group: groupId, sort: "name", dir: "asc" }, 7);
    expect(renamed.at(-1)).toBe(first);
    expect(renamed).toEqual(await reference("lower(u.name) asc, u.id asc", member));
  });

  it("returns the row's environments and its groups in the current environment", async () => {
    const page = await listUsers({ environmentId: env.dev.id, group: groupId, size: 25 });
    for (const row of page.rows) expect(row.groups).toEqual(["Chosen"]);
    expect(page.rows.some((r) => r.environments.join() === "dev,prod")).toBe(true);
  });

  it("counts exactly below the bound, from the Everyone group when unfiltered", async () => {
    expect((await listUsers({ environmentId: env.dev.id })).total).toEqual({ value: N, exact: true });
    expect((await listUsers({ environmentId: env.dev.id, status: ["active"] })).total).toEqual({ value: Math.floor(N / 4) + (N % 4 >= 3 ? 1 : 0), exact: true });
    expect(COUNT_BOUND).toBe(10_000);
    // A group's members are counted by the group itself, exactly.
    const members = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from group_members where group_id = ${groupId}`);
    expect((await listUsers({ environmentId: env.dev.id, group: groupId })).total).toEqual({ value: members[0]!.n, exact: true });
  });

  it("rejects bad input with the reason", async () => {
    const bad = async (params: Record<string, unknown>): Promise<ValidationError> => {
      const error = await listUsers({ environmentId: env.dev.id, ...params }).then(() => null, (e: unknown) => e);
      expect(error).toBeInstanceOf(ValidationError);
      return error as ValidationError;
    };
    expect((await bad({ after: "garbage" })).fieldErrors).toEqual({ cursor: ["Not a valid cursor."] });
    expect((await bad({ size: 0 })).fieldErrors).toEqual({ size: ["Page size is between 1 and 200."] });
    expect((await bad({ size: 500 })).fieldErrors).toEqual({ size: ["Page size is between 1 and 200."] });
    expect((await bad({ sort: "password_hash" })).fieldErrors?.sort).toHaveLength(1);
    expect((await bad({ access: ["nowhere"] })).fieldErrors).toEqual({ access: ["One or more environments do not exist."] });
    expect((await bad({ group: "x" })).fieldErrors).toEqual({ group: ["Not a valid group id."] });
  });
});
