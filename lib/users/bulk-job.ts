import "server-only";
import { eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { groups } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { enqueueJob, firstItemSeqs, recheckJobActor, registerJobHandler, saveItems, saveProgress } from "@/lib/jobs";
import { authorize, denialReason } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";
import { z } from "zod";
import { BULK_ACTIONS, runBulkAction } from "./bulk";
import { iterateUsers, listUsersInput } from "./list";

// A bulk action on "all N matching the filter": a background job walks the filtered list by keyset,
// 1,000 users at a time, each chunk one domain call (one transaction) with its report lines and
// progress committed after it; a restarted job continues after the last committed chunk.

const CHUNK = 1000;

// The action's target is checked here, before a job is queued (as the table's bulk actions check it,
// lib/users/bulk.ts), not by the job's first chunk.
const allMatchingInput = z
  .object({
    action: z.enum(BULK_ACTIONS),
    groupId: uuidSchema.optional(),
    environmentId: uuidSchema.optional(),
    filter: listUsersInput,
  })
  .superRefine((d, issues) => {
    if ((d.action === "add_to_group" || d.action === "remove_from_group") && !d.groupId) issues.addIssue({ code: "custom", path: ["groupId"], message: "Choose a group." });
    if ((d.action === "grant_environment" || d.action === "revoke_environment") && !d.environmentId) issues.addIssue({ code: "custom", path: ["environmentId"], message: "Choose an environment." });
  });

/**
 * The environments the job may touch. Without an environment filter "all matching" spans every
 * environment (account-wide); a group or environment action adds its own.
 */
async function jobScope(data: z.infer<typeof allMatchingInput>): Promise<string[]> {
  const touched = [data.filter.environmentId, data.environmentId].filter((e): e is string => Boolean(e));
  if (data.groupId) {
    const [group] = await getDb().select({ environmentId: groups.environmentId }).from(groups).where(eq(groups.id, data.groupId));
    if (group) touched.push(group.environmentId);
  }
  return data.filter.environmentId ? [...new Set(touched)] : [];
}

export async function startBulkAllMatching(ctx: DomainContext, input: unknown) {
  const data = parseInput(allMatchingInput, input);
  // Checked before anything is queued, and again before every chunk (the actor may have lost it).
  authorize(ctx.actor, "users", "write", await jobScope(data));
  return enqueueJob(getDb(), ctx, { kind: "bulk_users", environmentId: data.filter.environmentId ?? null, params: data as unknown as Record<string, unknown> });
}

registerJobHandler(
  "bulk_users",
  async (job, queuedBy) => {
    const params = job.params as unknown as z.infer<typeof allMatchingInput>;
    const scope = await jobScope(params);
    let ctx = queuedBy;
    const counts = { users: 0, changed: 0, unchanged: 0, failed: 0, ...(job.summary as Record<string, number> | null) };
    let seq = job.progress;
    const resumed = seq > 0;
    // The walk restarts from the top after a crash (deleted users have left the list by then); users
    // an earlier attempt already reported are skipped, so each appears in the report once.
    for await (const all of iterateUsers({ ...params.filter, withTotal: false }, CHUNK)) {
      let chunk = all;
      if (resumed) {
        const done = await firstItemSeqs(getDb(), job.id, all.map((u) => u.email));
        chunk = all.filter((u) => !done.has(u.email));
        if (chunk.length === 0) continue;
      }
      // The actor as it is now: stopped (with the reason in the report) if it lost the right.
      ctx = await recheckJobActor(job, ctx, seq + 1, (actor) => denialReason(actor, "users", "write", scope));
      const ids = chunk.map((u) => u.id);
      const result = await runBulkAction(ctx, { action: params.action, groupId: params.groupId, environmentId: params.environmentId, userIds: ids });
      const email = new Map(chunk.map((u) => [u.id, u.email]));
      const items = [
        ...result.changed.map((id) => ({ key: email.get(id) ?? id, outcome: "changed", detail: null as string | null })),
        ...result.unchanged.map((id) => ({ key: email.get(id) ?? id, outcome: "unchanged", detail: null })),
        ...result.failed.map((f) => ({ key: email.get(f.userId) ?? f.userId, outcome: "failed", detail: f.reason })),
      ].map((it) => ({ ...it, seq: ++seq }));
      counts.users += ids.length;
      counts.changed += result.changed.length;
      counts.unchanged += result.unchanged.length;
      counts.failed += result.failed.length;
      await getDb().transaction(async (tx) => {
        await saveItems(tx, job.id, items);
        await saveProgress(tx, job.id, seq, counts);
      });
    }
    return counts;
  },
  // Where it works: the filter's environment and the one its group or grant is in (who may stop it).
  { scope: (job) => jobScope(job.params as unknown as z.infer<typeof allMatchingInput>) },
);
