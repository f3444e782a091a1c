import { describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { environments } from "@/db/schema";
import { createEnvironments } from "@/test-support/fixtures";
import { preparePolicy } from "./auto-prepare";

const preparedCount = async (tx: Executor, fragment: string) => {
  const [row] = await tx.execute<{ n: number }>(sql`select count(*)::int as n from pg_prepared_statements where statement like ${`%${fragment}%`} and statement not like '%pg_prepared_statements%'`);
  return row!.n;
};

describe("which statements are prepared", () => {
  it("prepares a text from its second use on, and keeps preparing it", () => {
    const prepare = preparePolicy(10, 2);
    expect([prepare("select 1"), prepare("select 1"), prepare("select 1")]).toEqual([false, true, true]);
    expect(prepare("select 2")).toBe(false);
  });

  it("prepares no more than its bound of texts; those already prepared stay prepared", () => {
    const prepare = preparePolicy(3, 1);
    expect(["a", "b", "c", "d", "e"].map(prepare)).toEqual([true, true, true, false, false]);
    expect(["a", "c", "d"].map(prepare)).toEqual([true, true, false]);
  });

  it("starts again each epoch: a text that became hot after the bound was reached is prepared in the next", () => {
    let clock = 0;
    const prepare = preparePolicy(1, 1, 1000, () => clock);
    expect(["early", "late"].map(prepare)).toEqual([true, false]);
    clock = 999;
    expect(prepare("late")).toBe(false);
    clock = 1000;
    expect(["late", "early"].map(prepare)).toEqual([true, false]);
  });

  it("never prepares a pattern match: each run is planned for its own pattern", () => {
    const prepare = preparePolicy(10, 1);
    for (const text of ['select id from users where lower(name) like $1', 'select id from "audit_events" where "actor_label" ilike $1', "select 1 where $1 SIMILAR  TO 'a%'"]) {
      expect([prepare(text), prepare(text), prepare(text)]).toEqual([false, false, false]);
    }
    // Words that merely contain the letters are not patterns.
    expect(prepare('select "likely", "like_count" from t where id = $1')).toBe(true);
  });

  it("bounds the counts of texts seen once: they start again rather than grow", () => {
    const prepare = preparePolicy(10, 2);
    prepare("seen once long ago");
    for (let i = 0; i < 10_000; i++) prepare(`one-off ${i}`);
    // The count of the first text was dropped with the others: its next use is a first use again.
    expect(prepare("seen once long ago")).toBe(false);
    expect(prepare("seen once long ago")).toBe(true);
  });
});

describe("drizzle's statements on the connection", () => {
  it("prepares a statement run twice on a connection (in a transaction and in a savepoint), not one run once, with the same rows", async () => {
    await createEnvironments();
    const db = getDb();
    await db.transaction(async (tx) => {
      const once = await tx.select({ key: environments.key, marker: sql<string>`'run-once'` }).from(environments).where(eq(environments.key, "test"));
      const twice = () => tx.select({ key: environments.key, marker: sql<string>`'run-twice'` }).from(environments).where(eq(environments.key, "test"));
      const [first, second] = [await twice(), await twice()];
      expect(once).toEqual([{ key: "test", marker: "run-once" }]);
      expect(second).toEqual(first);
      expect(first).toEqual([{ key: "test", marker: "run-twice" }]);
      expect(await preparedCount(tx, "'run-twice'")).toBe(1);
      expect(await preparedCount(tx, "'run-once'")).toBe(0);
      await tx.transaction(async (inner) => {
        await inner.execute(sql`select 'in-savepoint' as marker, ${1}::int as n`);
        await inner.execute(sql`select 'in-savepoint' as marker, ${2}::int as n`);
        expect(await preparedCount(inner, "'in-savepoint'")).toBe(1);
      });
    });
  });
});

describe("plans of prepared statements", () => {
  it("a search by pattern stays unprepared however often it runs, so Postgres plans it for each pattern", async () => {
    await getDb().transaction(async (tx) => {
      const search = (pattern: string) => tx.execute<{ key: string }>(sql`select v.key, 'pattern-search' as marker from (values ('test'), ('prod')) as v(key) where v.key like ${pattern}`);
      expect(await search("te%")).toEqual([{ key: "test", marker: "pattern-search" }]);
      expect(await search("%r%")).toEqual([{ key: "prod", marker: "pattern-search" }]);
      expect(await search("nothing%")).toEqual([]);
      expect(await preparedCount(tx, "'pattern-search'")).toBe(0);
    });
  });
});
