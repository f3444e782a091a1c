import "server-only";
import { and, eq, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { arrayLiteral } from "@/db/records";
import { apiTokens, consoleMemberEnvironments, consoleMembers, environments, jobItems, jobs, type Job } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { ConflictError, NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { uuidSchema } from "@/lib/validation";

// Background jobs live in Postgres: any app instance claims the next one (FOR UPDATE SKIP LOCKED),
// keeps a heartbeat, and commits its progress with the work it describes, so a job whose instance
// died is picked up again and resumes where the last commit left it.

export type JobKind = Job["kind"];
export type JobHandler = (job: Job, ctx: DomainContext) => Promise<Record<string, unknown> | void>;

/** The environments a job works in (where its actor's permission is checked): by default the job's environment. */
export type JobScope = (job: Job) => Promise<string[]>;

const handlers = new Map<JobKind, JobHandler>();
const scopes = new Map<JobKind, JobScope>();

export function registerJobHandler(kind: JobKind, handler: JobHandler, options: { scope?: JobScope } = {}): void {
  handlers.set(kind, handler);
  if (options.scope) scopes.set(kind, options.scope);
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
  // Anything that is no id (36 dashes, say) names no job: 404, as an unknown id.
  const jobId = uuidSchema.safeParse(id);
  if (!jobId.success) throw new NotFoundError("Job not found.");
  const [row] = await getDb().select().from(jobs).where(eq(jobs.id, jobId.data));
  if (!row) throw new NotFoundError("Job not found.");
  return row;
}

/** The jobs a member starts (imports, bulk actions over a filter), which they may stop. */
const CANCELLABLE: readonly JobKind[] = ["bulk_users", "import_dry_run", "import_apply"];

/**
 * Stops a queued or running job. A queued one is cancelled at once and never runs. For a running
 * one the stop is asked for: the worker stops before its next batch (what the batches so far did
 * stays done; the report says where it stopped) and only then is it cancelled; a job whose last
 * batch was already under way ends as it would have. The member who started it may stop it, and so
 * may anyone who may change users where it works (its scope). Audited. A job that has ended, or
 * whose stop was already asked for, is left as it is (409).
 */
export async function cancelJob(ctx: DomainContext, id: string): Promise<Job> {
  const job = await getJob(id);
  if (!CANCELLABLE.includes(job.kind)) throw new ValidationError("This job is the system's upkeep: it cannot be stopped.");
  const started = job.actor as unknown as Actor;
  if (!(started.type === ctx.actor.type && started.id && started.id === ctx.actor.id)) {
    const scope = scopes.get(job.kind);
    authorize(ctx.actor, "users", "write", scope ? await scope(job) : job.environmentId ? [job.environmentId] : []);
  }
  return inTransaction(async (tx) => {
    const reason = `Cancelled by ${ctx.actor.label}.`;
    // No key update: a batch under way holds the row's key share (its report lines' foreign key) and is not waited for.
    const [now] = await tx.select().from(jobs).where(eq(jobs.id, job.id)).for("no key update");
    if (now!.status !== "queued" && now!.status !== "running") throw new ConflictError(`This job has already ended (${now!.status}).`);
    if (now!.cancelRequested) throw new ConflictError("This job is already being stopped: it stops before its next batch.");
    const [row] = await tx
      .update(jobs)
      .set(now!.status === "queued" ? { status: "cancelled", finishedAt: sql`now()`, error: reason, cancelRequested: reason } : { cancelRequested: reason })
      .where(eq(jobs.id, job.id))
      .returning();
    const [environment] = job.environmentId ? await tx.select({ id: environments.id, key: environments.key }).from(environments).where(eq(environments.id, job.environmentId)) : [];
    await recordAudit(tx, ctx, {
      action: "job.cancel",
      targetType: "job",
      targetId: job.id,
      targetLabel: job.kind,
      environment: environment ?? null,
      before: { status: now!.status, progress: now!.progress },
    });
    return row!;
  });
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

/** Finished jobs (succeeded, failed or cancelled) are kept this long, with their reports. */
export const JOB_RETENTION_DAYS = 90;

/** Hourly upkeep: finished jobs older than the retention, their items with them (cascade). Queued and running ones stay. */
export async function pruneFinishedJobs(days = JOB_RETENTION_DAYS, executor: Executor = getDb()): Promise<number> {
  const gone = await executor
    .delete(jobs)
    .where(sql`${jobs.status} in ('succeeded', 'failed', 'cancelled') and ${jobs.finishedAt} < now() - make_interval(days => ${days})`)
    .returning({ id: jobs.id });
  return gone.length;
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

/**
 * Which of `keys` the job's report already holds, each with its first row. Every key is looked up
 * through (job_id, key) by `job_items_first_seq` (migration 0043), so a check made at every batch
 * costs the batch's keys, not the report's length so far.
 */
export async function firstItemSeqs(executor: Executor, jobId: string, keys: string[]): Promise<Map<string, number>> {
  if (keys.length === 0) return new Map();
  const rows = await executor.execute<{ key: string; seq: number }>(sql`select key, seq from job_items_first_seq(${jobId}::uuid, ${arrayLiteral(keys)}::text[])`);
  return new Map(rows.map((r) => [r.key, r.seq]));
}

/**
 * The actor a job was queued by, as it is now: a console member reloaded from its row (active,
 * current role and environment scopes, as a session builds it), an API token from its row (not
 * revoked, not expired, current scope and environments); the system stays the system. Returns
 * the reason instead when the actor can no longer act. Other actors queue no jobs: refused.
 */
export async function currentActor(stored: Actor, executor: Executor = getDb()): Promise<{ actor: Actor } | { reason: string }> {
  switch (stored.type) {
    case "system":
      return { actor: stored };
    case "console_member": {
      const [member] = await executor
        .select({
          email: consoleMembers.email,
          role: consoleMembers.role,
          status: consoleMembers.status,
          environmentIds: sql<string[]>`coalesce((select array_agg(${consoleMemberEnvironments.environmentId}) from ${consoleMemberEnvironments} where ${consoleMemberEnvironments.memberId} = ${consoleMembers.id}), '{}')`,
        })
        .from(consoleMembers)
        .where(eq(consoleMembers.id, stored.id));
      if (!member) return { reason: `${stored.label} is no longer a console member.` };
      if (member.status !== "active") return { reason: `${member.email} is ${member.status}.` };
      return { actor: { type: "console_member", id: stored.id, label: member.email, role: member.role, environmentIds: member.environmentIds } };
    }
    case "api_token": {
      const [token] = await executor
        .select({
          name: apiTokens.name,
          scope: apiTokens.scope,
          environmentIds: apiTokens.environmentIds,
          revoked: sql<boolean>`${apiTokens.revokedAt} is not null`,
          expired: sql<boolean>`${apiTokens.expiresAt} is not null and ${apiTokens.expiresAt} <= now()`,
        })
        .from(apiTokens)
        .where(eq(apiTokens.id, stored.id));
      if (!token || token.revoked) return { reason: `${stored.label} has been revoked.` };
      if (token.expired) return { reason: `${stored.label} has expired.` };
      return { actor: { type: "api_token", id: stored.id, label: `API token ${token.name}`, scope: token.scope, environmentIds: token.environmentIds } };
    }
    default:
      return { reason: `A ${stored.type.replace("_", " ")} cannot run background jobs.` };
  }
}

/** A job stopped on purpose (its report and status are written already). */
export class JobStoppedError extends Error {}

/**
 * Called before each batch of a job: re-resolves the job's actor (see `currentActor`) and asks
 * `check` (a denialReason over the permission the batch needs) whether it may still act. Returns
 * the context with the fresh actor, for the batch to use (a narrowed scope applies at once).
 * Otherwise the job stops: status failed, the reason in `jobs.error` and as the next line of its
 * report (`seq`, outcome "error"), all in one commit, and a JobStoppedError ends the handler
 * before the batch writes anything.
 */
export async function recheckJobActor(
  job: Job,
  ctx: DomainContext,
  seq: number,
  check: (actor: Actor) => string | null,
): Promise<DomainContext> {
  // A stop asked for meanwhile (cancelJob): cancelled here, before this batch, with the reason as the report's next line.
  const [now] = await getDb().select({ cancelRequested: jobs.cancelRequested }).from(jobs).where(eq(jobs.id, job.id));
  if (now?.cancelRequested) {
    const reason = now.cancelRequested;
    await getDb().transaction(async (tx) => {
      await saveItems(tx, job.id, [{ seq, key: null, outcome: "error", detail: `Stopped: ${reason}` }]);
      await tx.update(jobs).set({ status: "cancelled", finishedAt: sql`now()`, error: reason }).where(and(eq(jobs.id, job.id), eq(jobs.status, "running")));
    });
    throw new JobStoppedError(reason);
  }
  const current = await currentActor(ctx.actor);
  const reason = "reason" in current ? current.reason : check(current.actor);
  if (!reason) return { ...ctx, actor: (current as { actor: Actor }).actor };
  const message = `Stopped: ${reason}`;
  await getDb().transaction(async (tx) => {
    await saveItems(tx, job.id, [{ seq, key: null, outcome: "error", detail: message }]);
    await tx.update(jobs).set({ status: "failed", finishedAt: sql`now()`, error: message }).where(and(eq(jobs.id, job.id), eq(jobs.status, "running")));
  });
  throw new JobStoppedError(message);
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
      // Every batch ran: succeeded, even where a stop was asked for during the last one (nothing was left to stop).
      await getDb()
        .update(jobs)
        .set({ status: "succeeded", finishedAt: sql`now()`, ...(summary ? { summary } : {}) })
        .where(and(eq(jobs.id, job.id), eq(jobs.status, "running")));
    } catch (error) {
      if (error instanceof JobStoppedError) continue; // its status and report are written
      const message = error instanceof Error ? error.message : String(error);
      await getDb().update(jobs).set({ status: "failed", finishedAt: sql`now()`, error: message.slice(0, 2000) }).where(and(eq(jobs.id, job.id), eq(jobs.status, "running")));
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
