import "server-only";
import { eq, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { jobItems, jobs, type Job } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { NotFoundError } from "@/lib/errors";

// Background jobs live in Postgres: any app instance claims the next one (FOR UPDATE SKIP LOCKED),
// keeps a heartbeat, and commits its progress with the work it describes, so a job whose instance
// died is picked up again and resumes where the last commit left it.

export type JobKind = Job["kind"];
export type JobHandler = (job: Job, ctx: DomainContext) => Promise<Record<string, unknown> | void>;

const handlers = new Map<JobKind, JobHandler>();

export function registerJobHandler(kind: JobKind, handler: JobHandler): void {
  handlers.set(kind, handler);
}

export async function enqueueJob(
  executor: Executor,
  ctx: DomainContext,
  job: { kind: JobKind; environmentId?: string | null; params: Record<string, unknown>; total?: number | null },
): Promise<Job> {
  const [row] = await executor
    .insert(jobs)
    .values({
      kind: job.kind,
      environmentId: job.environmentId ?? null,
      actor: ctx.actor as unknown as Record<string, unknown>,
      params: job.params,
      total: job.total ?? null,
    })
    .returning();
  return row!;
}

export async function getJob(id: string): Promise<Job> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) throw new NotFoundError("Job not found.");
  const [row] = await getDb().select().from(jobs).where(eq(jobs.id, id));
  if (!row) throw new NotFoundError("Job not found.");
  return row;
}

export const STALE_AFTER_SECONDS = 30;

/** Claims the oldest queued job, or a running one whose instance stopped beating. */
async function claim(): Promise<Job | null> {
  const [row] = await getDb().execute<Record<string, unknown>>(sql`
    update jobs set status = 'running', started_at = coalesce(started_at, now()), heartbeat_at = now(), attempts = attempts + 1
    where id = (
      select id from jobs
      where status = 'queued' or (status = 'running' and heartbeat_at < now() - make_interval(secs => ${STALE_AFTER_SECONDS}))
      order by created_at for update skip locked limit 1)
    returning id`);
  return row ? getJob(row.id as string) : null;
}

/** Records progress (and keeps the heartbeat) inside the caller's transaction. */
export async function saveProgress(executor: Executor, jobId: string, progress: number, summary: Record<string, unknown>): Promise<void> {
  await executor
    .update(jobs)
    .set({ progress, summary, heartbeatAt: sql`now()` })
    .where(eq(jobs.id, jobId));
}

export async function saveItems(executor: Executor, jobId: string, items: { seq: number; key: string | null; outcome: string; detail: string | null }[]) {
  for (let i = 0; i < items.length; i += 2000) {
    await executor
      .insert(jobItems)
      .values(items.slice(i, i + 2000).map((it) => ({ jobId, ...it })))
      .onConflictDoNothing();
  }
}

/** Runs jobs until none is left. Returns how many ran. */
export async function runPendingJobs(): Promise<number> {
  let ran = 0;
  for (let job = await claim(); job; job = await claim()) {
    ran++;
    const handler = handlers.get(job.kind);
    const ctx: DomainContext = { actor: job.actor as unknown as Actor, requestId: `job:${job.id}` };
    // Keep the heartbeat while a long step runs (progress commits also refresh it).
    const beat = setInterval(() => void getDb().update(jobs).set({ heartbeatAt: sql`now()` }).where(eq(jobs.id, job!.id)).catch(() => {}), 10_000);
    try {
      if (!handler) throw new Error(`No handler for ${job.kind}`);
      const summary = await handler(job, ctx);
      await getDb()
        .update(jobs)
        .set({ status: "succeeded", finishedAt: sql`now()`, ...(summary ? { summary } : {}) })
        .where(eq(jobs.id, job.id));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      await getDb().update(jobs).set({ status: "failed", finishedAt: sql`now()`, error: message.slice(0, 2000) }).where(eq(jobs.id, job.id));
    } finally {
      clearInterval(beat);
    }
  }
  return ran;
}

const worker = globalThis as unknown as { __iamJobWorker?: { running: boolean; timer: NodeJS.Timeout } };

/** Polls for jobs once a second in this process (started from instrumentation.ts). */
export function startJobWorker(): void {
  if (worker.__iamJobWorker) return;
  const state = { running: false, timer: setInterval(() => void tick(), 1000) };
  state.timer.unref?.();
  worker.__iamJobWorker = state;
  async function tick() {
    if (state.running) return;
    state.running = true;
    try {
      await runPendingJobs();
    } catch (error) {
      console.error("[jobs] worker error", error);
    } finally {
      state.running = false;
    }
  }
}
