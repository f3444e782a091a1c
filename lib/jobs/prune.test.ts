import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { jobItems, jobs } from "@/db/schema";
import { systemCtx } from "@/test-support/fixtures";
import { enqueueJob, JOB_RETENTION_DAYS, pruneFinishedJobs, saveItems } from "./index";

let ids: Record<string, string>;

beforeAll(async () => {
  const db = getDb();
  const make = async (status: string, finishedDaysAgo: number | null, createdDaysAgo = 0) => {
    const job = await enqueueJob(db, systemCtx, { kind: "bulk_users", environmentId: null, params: {} });
    await saveItems(db, job.id, [{ seq: 1, key: "someone@example.com", outcome: "changed", detail: null }]);
    await db.execute(sql`update jobs set status = ${status},
      finished_at = ${finishedDaysAgo === null ? null : sql`now() - make_interval(days => ${finishedDaysAgo})`},
      created_at = now() - make_interval(days => ${createdDaysAgo}) where id = ${job.id}`);
    return job.id;
  };
  ids = {
    oldSucceeded: await make("succeeded", JOB_RETENTION_DAYS + 1, JOB_RETENTION_DAYS + 2),
    oldFailed: await make("failed", JOB_RETENTION_DAYS + 10, JOB_RETENTION_DAYS + 10),
    recentSucceeded: await make("succeeded", JOB_RETENTION_DAYS - 1, JOB_RETENTION_DAYS + 5),
    oldQueued: await make("queued", null, JOB_RETENTION_DAYS + 30),
  };
});

describe("pruning finished jobs", () => {
  it("drops finished jobs past the retention with their report items, and keeps recent, queued and running ones", async () => {
    expect(await pruneFinishedJobs()).toBe(2);
    const left = (await getDb().select({ id: jobs.id }).from(jobs)).map((r) => r.id).sort();
    expect(left).toEqual([ids.recentSucceeded, ids.oldQueued].sort());
    expect(await getDb().select().from(jobItems).where(eq(jobItems.jobId, ids.oldSucceeded!))).toEqual([]);
    expect(await getDb().select().from(jobItems).where(eq(jobItems.jobId, ids.recentSucceeded!))).toHaveLength(1);
    // Idempotent: a second run (another instance's upkeep) finds nothing more.
    expect(await pruneFinishedJobs()).toBe(0);
  });
});
