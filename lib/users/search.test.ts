import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createEnvironments } from "@/test-support/fixtures";
import { insertAccessRows } from "@/lib/groups/membership-rows";
import { SEARCH_MATCHES_FIRST_MAX, listUsers, listUsersInput, usersWhere } from "./list";

// The users search takes one of two ways by how many users the fragment matches (counted through
// the trigram index, never estimated): few are read first and sorted, many are found by walking the
// list's order. Both must give the same rows, in the same order, page after page.

let env: { dev: Environment; test: Environment; prod: Environment };
const COMMON = SEARCH_MATCHES_FIRST_MAX + 300;

beforeAll(async () => {
  env = await createEnvironments();
  const db = getDb();
  // More "Common" users than the matches-first bound, a few "Zebra" ones, all with ties on the
  // sort keys; two thirds can enter DEV.
  await db.execute(sql`
    insert into users (email, name, status, source, last_sign_in_at, created_at)
    select case when i % 500 = 7 then 'zebra.' || i || '@rare.example' else 'common.' || i || '@corp.example' end,
      case when i % 500 = 7 then 'Zed Zebra' else (array['Ann Common','Bo Commons','Cy Commonwealth'])[1 + i % 3] end,
      (array['active','invited','suspended','deprovisioned'])[1 + i % 4],
      (array['manual','jit','scim','import'])[1 + (i / 3) % 4],
      case when i % 5 = 0 then null else timestamptz '2026-01-01' + (i % 7) * interval '1 day' end,
      timestamptz '2025-01-01' + (i % 11) * interval '1 hour'
    from generate_series(1, ${COMMON}) i`);
  const ids = (await db.execute<{ id: string }>(sql`select id from users order by email`)).map((r) => r.id);
  await insertAccessRows(db, ids.filter((_, i) => i % 3 !== 0), env.dev.id, "manual");
  await db.execute(sql`analyze users, environment_access`);
});

async function walk(params: Record<string, unknown>, size = 200) {
  const seen: string[] = [];
  let after = "";
  for (let i = 0; i < 100; i++) {
    const page = await listUsers({ environmentId: env.dev.id, size, after, withTotal: false, ...params });
    seen.push(...page.rows.map((r) => r.id));
    if (!page.next) return seen;
    after = page.next;
  }
  throw new Error("more pages than expected");
}

async function reference(q: string, order: string, extra = "true") {
  const rows = await getDb().execute<{ id: string }>(sql`
    select u.id from users u
    where strpos(lower(u.name || ' ' || u.email), ${q.toLowerCase()}) > 0
      and exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${env.dev.id})
      and ${sql.raw(extra)}
    order by ${sql.raw(order)}`);
  return rows.map((r) => r.id);
}

const SORTS = [
  ["created", "desc", "u.created_at desc, u.id desc"],
  ["name", "asc", "lower(u.name) asc, u.id asc"],
  ["email", "desc", "lower(u.email) desc, u.id desc"],
  ["lastSignIn", "asc", "coalesce(u.last_sign_in_at, '-infinity'::timestamptz) asc, u.id asc"],
  ["status", "asc", "u.status asc, u.id asc"],
] as const;

/** The plan of a list's FROM and WHERE as the page reads it (first page, newest first). */
async function plan(q: string): Promise<string> {
  const query = await usersWhere(listUsersInput.parse({ environmentId: env.dev.id, q }));
  const rows = await getDb().execute<{ "QUERY PLAN": string }>(
    sql`explain select u.id from ${query.from} where ${query.where} order by u.created_at desc, u.id desc limit 51`,
  );
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

describe("users search", () => {
  it("finds a common fragment (more matches than the bound) by walking the order, in every sort, page after page", async () => {
    const all = await reference("common", "u.id");
    expect(all.length).toBeGreaterThan(SEARCH_MATCHES_FIRST_MAX / 2);
    for (const [sort, dir, order] of SORTS) {
      expect(await walk({ q: "COMMON", sort, dir })).toEqual(await reference("common", order));
    }
    // Another filter on top, and a fragment too short for a trigram.
    expect(await walk({ q: "commons", status: ["active"] })).toEqual(await reference("commons", "u.created_at desc, u.id desc", "u.status = 'active'"));
    expect(await walk({ q: "ze", sort: "name", dir: "asc" })).toEqual(await reference("ze", "lower(u.name) asc, u.id asc"));
    // The count says the number of matches, not the planner's guess for the walk.
    expect((await listUsers({ environmentId: env.dev.id, q: "common" })).total).toEqual({ value: (await reference("common", "u.id")).length, exact: true });
    expect((await listUsers({ environmentId: env.dev.id, q: "zebra" })).total).toEqual({ value: (await reference("zebra", "u.id")).length, exact: true });
  });

  it("finds a rare fragment and a full email by reading the matches first, in every sort", async () => {
    const zebras = await reference("zebra", "u.id");
    expect(zebras.length).toBeGreaterThan(1);
    for (const [sort, dir, order] of SORTS) {
      expect(await walk({ q: "Zebra", sort, dir }, 2)).toEqual(await reference("zebra", order));
    }
    const [one] = await getDb().execute<{ id: string; email: string }>(sql`
      select u.id, u.email from users u join environment_access a on a.user_id = u.id and a.environment_id = ${env.dev.id}
      where u.email like 'common.%' order by u.email limit 1`);
    expect(await walk({ q: one!.email.toUpperCase() })).toEqual([one!.id]);
    // An email is probed by its local part; the rest must match too.
    expect(await walk({ q: one!.email.replace("corp.example", "rare.example") })).toEqual([]);
    expect(await walk({ q: "zebra.7@rare" })).toEqual(await reference("zebra.7@rare", "u.created_at desc, u.id desc"));
    // A domain every user shares is common: walked, in order.
    expect(await walk({ q: "@corp.example", sort: "email", dir: "asc" })).toEqual(await reference("@corp.example", "lower(u.email) asc, u.id asc"));
    expect(await walk({ q: "nobody-by-this-name" })).toEqual([]);
    // LIKE's wildcards stay literal on both ways.
    expect(await walk({ q: "com%mon" })).toEqual([]);
    expect(await walk({ q: "_" })).toEqual([]);
  });

  it("leaves a caller's transaction with the planner settings it had", async () => {
    const settings = await getDb().transaction(async (tx) => {
      const page = await listUsers({ environmentId: env.dev.id, q: "zebra", withTotal: false }, tx);
      expect(page.rows.length).toBeGreaterThan(0);
      const [row] = await tx.execute<{ seq: string; idx: string }>(sql`select current_setting('enable_seqscan') as seq, current_setting('enable_indexscan') as idx`);
      return row;
    });
    expect(settings).toEqual({ seq: "on", idx: "on" });
  });

  it("plans the two ways by the counted matches, whatever the statistics say", async () => {
    // Statistics from a one-row sample make the planner's estimates arbitrary; the plans must not move.
    for (const target of [-1, 1]) {
      await getDb().execute(sql.raw(`alter index users_search_trgm_idx alter column 1 set statistics ${target}`));
      await getDb().execute(sql`analyze users, environment_access`);
      const common = await plan("common");
      expect(common).not.toMatch(/users_search_trgm_idx/);
      expect(common).toMatch(/Index Scan( Backward)? using users_created_at_idx/);
      // The walk tests each user's name and email for the fragment; the lookup by id does not.
      expect(common).toMatch(/strpos/);
      // The few matches are looked up by id; which index serves that lookup in a table this small
      // (the primary key, or the created_at index whose second column is the id) is the
      // planner's choice: once in a CI run it chose the latter.
      const rare = await plan("zebra");
      expect(rare).not.toMatch(/users_search_trgm_idx/);
      expect(rare).toMatch(/Index Cond: \(id = ANY/);
      expect(rare).not.toMatch(/strpos/);
    }
  });
});
