import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { bulkUsersIn, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import type { DomainContext } from "@/lib/auth/actor";
import { createApiToken, revokeApiToken } from "@/lib/api-tokens";
import { createGroup } from "@/lib/groups";
import { importItems, inspectUpload, saveUpload, startImport } from "@/lib/import/csv-import";
import { startBulkAllMatching } from "@/lib/users/bulk-job";
import { getJob } from ".";
import { runPendingJobs } from "./worker";

// A job runs as the actor who queued it, as that actor is now: before every batch it reloads the
// console member (or API token) and checks the permission again. One who was suspended, removed,
// demoted or narrowed since stops the job (the reason in the job and in its report) or, narrowed,
// applies the narrower scope at once.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
  await bulkUsersIn(env.dev.id, "walk", 2500);
});

// Changes the actor once the job's first batch commits (a trigger on its first report lines, in
// the batch's own transaction): the next batch is the first to see the change.
async function afterFirstBatch(jobId: string, change: string) {
  await getDb().execute(sql.raw(`create function change_actor() returns trigger language plpgsql as $$ begin ${change}; return null; end $$`));
  await getDb().execute(sql.raw(`create trigger change_actor after insert on job_items for each row when (NEW.job_id = '${jobId}') execute function change_actor()`));
}
afterEach(async () => {
  await getDb().execute(sql.raw(`drop trigger if exists change_actor on job_items; drop function if exists change_actor()`));
});

const memberId = (ctx: DomainContext) => ctx.actor.id!;
const groupSize = async (groupId: string) =>
  (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from group_members where group_id = ${groupId}`))[0]!.n;

async function bulkJob(ctx: DomainContext) {
  const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Walkers ${crypto.randomUUID().slice(0, 6)}` });
  const job = await startBulkAllMatching(ctx, { action: "add_to_group", groupId: group.id, filter: { environmentId: env.dev.id, q: "walk" } });
  return { job, group };
}

describe("a bulk job re-checks its actor before every chunk", () => {
  it("runs to the end when the actor is unchanged", async () => {
    const { job, group } = await bulkJob(await realMemberCtx("admin"));
    await runPendingJobs();
    expect((await getJob(job.id)).status).toBe("succeeded");
    expect(await groupSize(group.id)).toBe(2500);
  });

  it("finds a job by its id in either case, and answers anything that is no id as an unknown job", async () => {
    const { job } = await bulkJob(await realMemberCtx("admin"));
    expect((await getJob(job.id.toUpperCase())).id).toBe(job.id);
    for (const notAnId of ["-".repeat(36), "", "x"]) expect(await getJob(notAnId).catch((e) => [e.status, e.message])).toEqual([404, "Job not found."]);
  });

  it("stops after the chunk during which its admin was suspended: the reason in the job and its report, nothing applied after", async () => {
    const admin = await realMemberCtx("admin");
    const { job, group } = await bulkJob(admin);
    await afterFirstBatch(job.id, `update console_members set status = 'suspended' where id = '${memberId(admin)}'`);
    await runPendingJobs();
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["failed", `Stopped: ${admin.actor.label} is suspended.`]);
    expect(await groupSize(group.id)).toBe(1000);
    const report = await importItems(job.id, { limit: 5000 });
    expect(report.length).toBe(1001);
    expect(report.at(-1)).toMatchObject({ seq: 1001, key: null, outcome: "error", detail: `Stopped: ${admin.actor.label} is suspended.` });
    expect(done.summary).toEqual({ users: 1000, changed: 1000, unchanged: 0, failed: 0 });
  });

  it("stops when its admin is demoted to reviewer", async () => {
    const admin = await realMemberCtx("admin");
    const { job, group } = await bulkJob(admin);
    await afterFirstBatch(job.id, `update console_members set role = 'reviewer' where id = '${memberId(admin)}'`);
    await runPendingJobs();
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["failed", "Stopped: A reviewer cannot change users."]);
    expect(await groupSize(group.id)).toBe(1000);
    expect((await importItems(job.id, { outcome: "error" })).map((i) => [i.seq, i.detail])).toEqual([[1001, "Stopped: A reviewer cannot change users."]]);
  });

  it("does not start for an API token revoked after queueing", async () => {
    const { token: _secret, record } = await createApiToken(systemCtx, { name: "bulk robot", scope: "write" });
    const tokenCtx: DomainContext = { actor: { type: "api_token", id: record.id, label: "API token bulk robot", scope: "write", environmentIds: null } };
    const { job, group } = await bulkJob(tokenCtx);
    await revokeApiToken(systemCtx, record.id);
    await runPendingJobs();
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["failed", "Stopped: API token bulk robot has been revoked."]);
    expect(await groupSize(group.id)).toBe(0);
    expect((await importItems(job.id)).map((i) => [i.seq, i.outcome, i.detail])).toEqual([[1, "error", "Stopped: API token bulk robot has been revoked."]]);
  });
});

describe("an import re-checks its actor before every batch", () => {
  const file = (prefix: string, environments: string) =>
    ["email,name,environments", ...Array.from({ length: 1200 }, (_, i) => `${prefix}${i}@example.com,${prefix} ${i},${environments}`)].join("\n");
  const importJob = async (ctx: DomainContext, csv: string) => {
    const upload = await saveUpload(new Blob([csv]).stream(), "users.csv", "test");
    const { mapping } = await inspectUpload(upload.id);
    return startImport(ctx, { uploadId: upload.id, environmentId: env.dev.id, mapping, apply: true });
  };
  const imported = async (prefix: string) =>
    (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users where email like ${`${prefix}%`}`))[0]!.n;

  it("applies every batch when the actor is unchanged", async () => {
    const job = await importJob(await realMemberCtx("admin"), file("same", "dev"));
    await runPendingJobs();
    expect((await getJob(job.id)).status).toBe("succeeded");
    expect(await imported("same")).toBe(1200);
  });

  it("stops after the batch during which its admin was suspended, with the reason in its report", async () => {
    const admin = await realMemberCtx("admin");
    const job = await importJob(admin, file("susp", "dev"));
    await afterFirstBatch(job.id, `update console_members set status = 'suspended' where id = '${memberId(admin)}'`);
    await runPendingJobs();
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["failed", `Stopped: ${admin.actor.label} is suspended.`]);
    expect(await imported("susp")).toBe(500);
    const report = await importItems(job.id, { limit: 5000 });
    expect(report.length).toBe(501);
    // The line sits where the import stopped: before row 501, the first not applied.
    expect(report.at(-1)).toMatchObject({ seq: 501, key: null, outcome: "error", detail: `Stopped: ${admin.actor.label} is suspended.` });
  });

  it("stops when its admin is demoted to reviewer, or removed", async () => {
    const demoted = await realMemberCtx("admin");
    const first = await importJob(demoted, file("demo", "dev"));
    await afterFirstBatch(first.id, `update console_members set role = 'reviewer' where id = '${memberId(demoted)}'`);
    await runPendingJobs();
    expect((await getJob(first.id)).error).toBe("Stopped: A reviewer cannot change users.");
    expect(await imported("demo")).toBe(500);

    const removed = await realMemberCtx("admin");
    const second = await importJob(removed, file("gone", "dev"));
    await getDb().execute(sql`delete from console_members where id = ${memberId(removed)}`);
    await runPendingJobs();
    const done = await getJob(second.id);
    expect([done.status, done.error]).toEqual(["failed", `Stopped: ${removed.actor.label} is no longer a console member.`]);
    expect(await imported("gone")).toBe(0);
    expect((await importItems(second.id)).map((i) => [i.seq, i.outcome])).toEqual([[1, "error"]]);
  });

  it("applies a narrowed scope from the next batch on", async () => {
    const admin = await realMemberCtx("admin");
    const job = await importJob(admin, file("narrow", "dev;prod"));
    await afterFirstBatch(
      job.id,
      `update console_members set role = 'environment_admin' where id = '${memberId(admin)}';
       insert into console_member_environments (member_id, environment_id) values ('${memberId(admin)}', '${env.dev.id}') on conflict do nothing`,
    );
    await runPendingJobs();
    const done = await getJob(job.id);
    expect(done.status).toBe("succeeded");
    expect(done.summary).toMatchObject({ rows: 1200, create: 500, error: 700 });
    expect((await importItems(job.id, { afterSeq: 500, limit: 1 }))[0]).toMatchObject({ seq: 501, outcome: "error", detail: "environment “prod” is outside your scope" });
    expect(await imported("narrow")).toBe(500);
  });
});
