import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb, getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { bulkUsersIn, createEnvironments, memberCtx, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import type { DomainContext } from "@/lib/auth/actor";
import { createGroup } from "@/lib/groups";
import { importItems } from "@/lib/import/csv-import";
import { startBulkAllMatching } from "@/lib/users/bulk-job";
import { cancelJob, getJob } from ".";
import { runPendingJobs } from "./worker";

// Stopping a job: a queued one never runs; a running one stops before its next batch, with the
// reason in the job and its report; what ran stays done. Who may stop it, and audited.

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
  await bulkUsersIn(env.dev.id, "halt", 2500);
});
afterEach(async () => {
  await getDb().execute(sql.raw(`drop trigger if exists hold_batch on job_items; drop function if exists hold_batch()`));
});

const groupSize = async (groupId: string) => (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from group_members where group_id = ${groupId}`))[0]!.n;
async function bulkJob(ctx: DomainContext) {
  const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Halted ${crypto.randomUUID().slice(0, 6)}` });
  const job = await startBulkAllMatching(ctx, { action: "add_to_group", groupId: group.id, filter: { environmentId: env.dev.id, q: "halt" } });
  return { job, group };
}

/**
 * Runs the pending jobs with the first batch held inside its transaction (before it commits) while
 * `meanwhile` runs; then lets it go and waits for the jobs to end.
 */
async function withFirstBatchHeld(meanwhile: () => Promise<void>) {
  await getDb().execute(sql.raw(`create function hold_batch() returns trigger language plpgsql as $$ begin perform pg_advisory_xact_lock(4242); return null; end $$`));
  await getDb().execute(sql.raw(`create trigger hold_batch after insert on job_items for each statement execute function hold_batch()`));
  const holder = await getSql().reserve();
  await holder`select pg_advisory_lock(4242)`;
  const running = runPendingJobs();
  try {
    await expect.poll(async () => (await getSql()<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event = 'advisory'`)[0]!.n, { timeout: 15_000 }).toBe(1);
    await meanwhile();
  } finally {
    await holder`select pg_advisory_unlock(4242)`;
    holder.release();
  }
  await running;
}

describe("stopping a job", () => {
  it("a queued job that is cancelled never runs; the cancel is audited in the job's environment", async () => {
    const admin = await realMemberCtx("admin");
    const { job, group } = await bulkJob(admin);
    const cancelled = await cancelJob(admin, job.id);
    expect([cancelled.status, cancelled.error, cancelled.progress]).toEqual(["cancelled", `Cancelled by ${admin.actor.label}.`, 0]);
    await runPendingJobs();
    expect((await getJob(job.id)).status).toBe("cancelled");
    expect(await groupSize(group.id)).toBe(0);
    const [audit] = await getSql()<{ action: string; environment_key: string; actor_label: string }[]>`select action, environment_key, actor_label from audit_events where target_id = ${job.id}`;
    expect(audit).toEqual({ action: "job.cancel", environment_key: "dev", actor_label: admin.actor.label });
    // Ended: stopping it again is refused, and writes nothing.
    expect(await cancelJob(admin, job.id).catch((e) => [e.status, e.message])).toEqual([409, "This job has already ended (cancelled)."]);
  });

  it("a running job stops before its next batch: what ran stays, the report says where it stopped", async () => {
    const admin = await realMemberCtx("admin");
    const { job, group } = await bulkJob(admin);
    await withFirstBatchHeld(async () => {
      expect((await getJob(job.id)).status).toBe("running");
      // Asked for: the job runs on to the end of the batch under way, and says it is stopping.
      const asked = await cancelJob(admin, job.id);
      expect([asked.status, asked.cancelRequested]).toEqual(["running", `Cancelled by ${admin.actor.label}.`]);
      expect(await cancelJob(admin, job.id).catch((e) => [e.status, e.message])).toEqual([409, "This job is already being stopped: it stops before its next batch."]);
    });
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["cancelled", `Cancelled by ${admin.actor.label}.`]);
    expect(await groupSize(group.id)).toBe(1000);
    const report = await importItems(job.id, { limit: 5000 });
    expect(report.length).toBe(1001);
    expect(report.at(-1)).toMatchObject({ seq: 1001, key: null, outcome: "error", detail: `Stopped: Cancelled by ${admin.actor.label}.` });
  });

  it("a stop asked for during the last batch comes too late: the job ends succeeded, every row applied, its report whole", async () => {
    const admin = await realMemberCtx("admin");
    const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Late ${crypto.randomUUID().slice(0, 6)}` });
    // halt25, halt250–259 and halt2500: one batch.
    const job = await startBulkAllMatching(admin, { action: "add_to_group", groupId: group.id, filter: { environmentId: env.dev.id, q: "halt25" } });
    await withFirstBatchHeld(() => cancelJob(admin, job.id).then(() => undefined));
    const done = await getJob(job.id);
    expect([done.status, done.error]).toEqual(["succeeded", null]);
    expect(await groupSize(group.id)).toBe(12);
    expect((await importItems(job.id, { limit: 100 })).filter((i) => i.outcome === "error")).toEqual([]);
  });

  it("who may stop a job is checked where it works: a DEV admin may not stop a job that grants PROD", async () => {
    const admin = await realMemberCtx("admin");
    const job = await startBulkAllMatching(admin, { action: "grant_environment", environmentId: env.prod.id, filter: { environmentId: env.dev.id, q: "halt" } });
    expect(await cancelJob(memberCtx("environment_admin", [env.dev.id]), job.id).catch((e) => [e.status, e.message])).toEqual([403, "This change touches an environment outside your scope."]);
    expect((await cancelJob(memberCtx("environment_admin", [env.dev.id, env.prod.id]), job.id)).status).toBe("cancelled");
  });

  it("the member who started it may stop it, and so may one who may change users there; no one else", async () => {
    const devAdmin = await realMemberCtx("environment_admin", [env.dev.id]);
    const { job } = await bulkJob(devAdmin);
    expect(await cancelJob(memberCtx("reviewer"), job.id).catch((e) => [e.status, e.message])).toEqual([403, "A reviewer cannot change users."]);
    expect(await cancelJob(memberCtx("environment_admin", [env.prod.id]), job.id).catch((e) => [e.status, e.message])).toEqual([403, "This change touches an environment outside your scope."]);
    expect((await getJob(job.id)).status).toBe("queued");
    expect((await cancelJob(memberCtx("admin"), job.id)).status).toBe("cancelled");
    const mine = await bulkJob(devAdmin);
    expect((await cancelJob(devAdmin, mine.job.id)).status).toBe("cancelled");
    expect(await cancelJob(devAdmin, "-".repeat(36)).catch((e) => [e.status, e.message])).toEqual([404, "Job not found."]);
  });
});
