import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb, getSql } from "@/db/client";
import { seedDemo } from "@/scripts/demo-seed";
import { largeShape, seedLarge } from "./seed-large";

describe("seed:large", () => {
  it("generates the proportions in one transaction, with consistent group sizes and member sort keys", async () => {
    await seedDemo();
    const shape = await seedLarge(getSql(), { users: 2000 });
    expect(shape).toEqual(largeShape(2000));
    const db = getDb();
    const [{ users } = { users: 0 }] = await db.execute<{ users: number }>(sql`select count(*)::int as users from users where email like '%@bench.example.org'`);
    expect(users).toBe(2000);
    const perEnv = await db.execute<{ key: string; access: number }>(sql`
      select e.key, count(a.user_id)::int as access from environments e
      left join environment_access a on a.environment_id = e.id join users u on u.id = a.user_id and u.email like '%@bench.example.org'
      group by e.key order by e.key`);
    expect(perEnv).toEqual([
      { key: "dev", access: 2000 },
      { key: "prod", access: 800 },
      { key: "test", access: 1200 },
    ]);
    const [drift] = await db.execute<{ n: number }>(sql`
      select count(*)::int as n from groups g where g.member_count <> (select count(*) from group_members gm where gm.group_id = g.id)`);
    expect(drift!.n).toBe(0);
    const [keys] = await db.execute<{ n: number }>(sql`
      select count(*)::int as n from group_members gm join users u on u.id = gm.user_id
      where gm.user_created_at <> u.created_at or gm.user_name_key <> lower(u.name)`);
    expect(keys!.n).toBe(0);
    const [derived] = await db.execute<{ n: number }>(sql`
      select count(*)::int as n from environment_access a join users u on u.id = a.user_id
      where a.group_count <> (select count(*) from group_members gm where gm.user_id = a.user_id and gm.environment_id = a.environment_id and gm.source <> 'system')
         or u.environment_keys = ''`);
    expect(derived!.n).toBe(0);
    // Status is not correlated with environment: suspended users exist in PROD.
    const [suspendedInProd] = await db.execute<{ n: number }>(sql`
      select count(*)::int as n from users u join environment_access a on a.user_id = u.id
      join environments e on e.id = a.environment_id and e.key = 'prod' where u.status = 'suspended'`);
    expect(suspendedInProd!.n).toBeGreaterThan(0);
    // Running it again is a no-op.
    await seedLarge(getSql(), { users: 2000 });
    const [{ again } = { again: 0 }] = await db.execute<{ again: number }>(sql`select count(*)::int as again from users where email like '%@bench.example.org'`);
    expect(again).toBe(2000);
  });
});
