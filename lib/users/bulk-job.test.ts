import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, realMemberCtx } from "@/test-support/fixtures";
import { iterateMemberships } from "@/lib/groups/export";
import { createGroup } from "@/lib/groups";
import { insertAccessRows } from "@/lib/groups/membership-rows";
import { getJob } from "@/lib/jobs";
import { runPendingJobs } from "@/lib/jobs/worker";
import { importItems } from "@/lib/import/csv-import";
import { startBulkAllMatching } from "./bulk-job";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
  await getDb().execute(sql`
    insert into users (email, name, status) select 'many' || i || '@example.com', 'Many ' || i, 'active' from generate_series(1, 2500) i`);
  const ids = (await getDb().execute<{ id: string }>(sql`select id from users where email like 'many%'`)).map((r) => r.id);
  await insertAccessRows(getDb(), ids, env.dev.id, "manual");
});

describe("bulk action on all matching users (background job)", () => {
  it("adds every user matching the filter to a group, in chunks, with a per-user report", async () => {
    const g = await createGroup(memberCtx("admin"), { environmentId: env.dev.id, name: "Everybody Many" });
    const job = await startBulkAllMatching(await realMemberCtx("admin"), {
      action: "add_to_group",
      groupId: g.id,
      filter: { environmentId: env.dev.id, q: "many1" },
    });
    await runPendingJobs();
    const done = await getJob(job.id);
    // many1, many10–19, many100–199, many1000–1999
    expect(done.status).toBe("succeeded");
    expect(done.summary).toEqual({ users: 1111, changed: 1111, unchanged: 0, failed: 0 });
    const [{ n } = { n: 0 }] = await getDb().execute<{ n: number }>(sql`select member_count as n from groups where id = ${g.id}`);
    expect(n).toBe(1111);
    expect((await importItems(job.id, { limit: 5000 })).length).toBe(1111);
  });

  it("refuses a reviewer before queueing anything", async () => {
    await expect(startBulkAllMatching(memberCtx("reviewer"), { action: "suspend", filter: { environmentId: env.dev.id } })).rejects.toThrowError(
      "A reviewer cannot change users.",
    );
  });

  it("refuses an action without its target before queueing anything (the job's first chunk found it)", async () => {
    const before = await countRows("jobs");
    const ctx = await realMemberCtx("admin");
    await expect(startBulkAllMatching(ctx, { action: "add_to_group", filter: { environmentId: env.dev.id } })).rejects.toMatchObject({ fieldErrors: { groupId: ["Choose a group."] } });
    await expect(startBulkAllMatching(ctx, { action: "grant_environment", filter: { environmentId: env.dev.id } })).rejects.toMatchObject({ fieldErrors: { environmentId: ["Choose an environment."] } });
    expect(await countRows("jobs")).toBe(before);
  });

  it("exports an environment's memberships group by group", async () => {
    const seen: string[] = [];
    for await (const chunk of iterateMemberships(env.dev.id, 700)) seen.push(...chunk.map((m) => `${m.group}/${m.email}`));
    const [{ n } = { n: 0 }] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from group_members where environment_id = ${env.dev.id}`);
    expect(seen.length).toBe(n);
    expect(new Set(seen).size).toBe(n);
    expect(seen.filter((s) => s.startsWith("Everyone/")).length).toBe(2500);
  });
});
