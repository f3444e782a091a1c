import "server-only";
import { createHash } from "node:crypto";
import { sql } from "drizzle-orm";
import type postgres from "postgres";
import { z } from "zod";
import { getSql } from "@/db/client";
import type { DomainContext } from "@/lib/auth/actor";
import { inTransaction } from "@/lib/domain/transaction";
import { env } from "@/env";
import { authorize } from "@/lib/permissions";
import { parseInput } from "@/lib/validation";
import { enqueueDeliveries } from "@/lib/webhooks";
import { recordAudit } from "./record";
import { SEALED_CONTENT } from "./sealed-content";

// The audit trail's hash chain. Rows are written by every door inside their own transactions; the
// sealer then gives them, in commit order, a position (seq), the previous row's hash and their own
// hash = sha256(previous hash + the row's content as Postgres prints it). Sealing in commit order
// (rather than at insert) keeps writers from queueing behind one lock, and a row committed late is
// simply sealed later. Verify walks the chain and names the first broken link.

export const GENESIS = "0".repeat(64);
const BATCH = 5000;

type Row = { id: string; seq: string | null; prev_hash: string | null; hash: string | null; content: string };

// (Ordering names the table's seq: the selected `seq::text` would sort as text.)

export const linkHash = (prevHash: string, content: string) => createHash("sha256").update(prevHash).update("\n").update(content).digest("hex");

/** Seals the rows committed since the last run (all of them, in batches); returns how many. */
export async function sealAuditTrail(pgClient: postgres.Sql = getSql()): Promise<number> {
  let total = 0;
  for (;;) {
    const sealed = await pgClient.begin(async (pg) => {
      await pg`select pg_advisory_xact_lock(hashtext('audit_seal'))`;
      const [head] = await pg<{ seq: string; hash: string }[]>`select seq::text, hash from audit_events where seq is not null order by audit_events.seq desc limit 1`;
      const [anchor] = head ? [] : await pg<{ seq: string; hash: string }[]>`select seq::text, hash from audit_anchors order by id desc limit 1`;
      const rows = await pg.unsafe<Row[]>(`select id::text, null as seq, null as prev_hash, null as hash, ${SEALED_CONTENT} as content from audit_events where seq is null order by id limit ${BATCH}`);
      if (!rows.length) return { count: 0, ids: [] as string[] };
      let seq = head ? Number(head.seq) : anchor ? Number(anchor.seq) - 1 : 0;
      let prev = head?.hash ?? anchor?.hash ?? GENESIS;
      const ids: string[] = [], seqs: number[] = [], prevs: string[] = [], hashes: string[] = [];
      for (const row of rows) {
        seq++;
        const hash = linkHash(prev, row.content);
        ids.push(row.id);
        seqs.push(seq);
        prevs.push(prev);
        hashes.push(hash);
        prev = hash;
      }
      await pg`
        update audit_events a set seq = v.seq, prev_hash = v.prev, hash = v.hash
        from (select unnest(${ids}::bigint[]) as id, unnest(${seqs}::bigint[]) as seq, unnest(${prevs}::text[]) as prev, unnest(${hashes}::text[]) as hash) v
        where a.id = v.id`;
      // The webhook outbox: deliveries are written in the same transaction as the seal.
      await enqueueDeliveries(pg, ids);
      return { count: rows.length, ids };
    });
    total += sealed.count;
    if (sealed.ids.length && env().AUDIT_STDOUT) await emitJsonLines(pgClient, sealed.ids);
    if (sealed.count < BATCH) return total;
  }
}

/** Each newly sealed event as one JSON line on stdout (for log shippers), after its seal committed. */
async function emitJsonLines(pg: postgres.Sql, ids: string[]) {
  const events = await pg`select to_jsonb(a) - 'prev_hash' as event from audit_events a where a.id = any(${ids}::bigint[]) order by a.seq`;
  for (const { event } of events) process.stdout.write(`${JSON.stringify({ type: "audit_event", ...(event as object) })}\n`);
}

export type ChainReport = {
  ok: boolean;
  checked: number;
  unsealed: number;
  anchor: { seq: number; prunedRows: number; cutoff: string } | null;
  /** The first broken link: which row, and what is wrong with it. */
  broken: { seq: number; id: number | null; problem: string } | null;
  /** The last row verified: a copy of the trail (the CSV export) that ends with the same hash holds the same chain. */
  head: { seq: number; hash: string } | null;
};

/** Seals what is pending, then walks the whole chain in seq order. */
export async function verifyAuditTrail(pg: postgres.Sql = getSql()): Promise<ChainReport> {
  await sealAuditTrail(pg);
  const [anchor] = await pg<{ seq: string; hash: string; pruned_rows: string; cutoff: Date }[]>`select seq::text, hash, pruned_rows::text, cutoff from audit_anchors order by id desc limit 1`;
  let expectedSeq = anchor ? Number(anchor.seq) : 1;
  let prev = anchor?.hash ?? GENESIS;
  let checked = 0;
  let after = 0;
  const report = (broken: ChainReport["broken"]): ChainReport => ({
    ok: broken === null,
    checked,
    unsealed: 0,
    anchor: anchor ? { seq: Number(anchor.seq), prunedRows: Number(anchor.pruned_rows), cutoff: new Date(anchor.cutoff).toISOString() } : null,
    broken,
    head: checked ? { seq: expectedSeq - 1, hash: prev } : null,
  });
  for (;;) {
    const rows = await pg.unsafe<Row[]>(`select id::text, seq::text, prev_hash, hash, ${SEALED_CONTENT} as content from audit_events where seq > $1 order by audit_events.seq limit ${BATCH}`, [after]);
    for (const row of rows) {
      const seq = Number(row.seq);
      if (seq !== expectedSeq) return report({ seq: expectedSeq, id: null, problem: seq > expectedSeq ? `rows ${expectedSeq}–${seq - 1} are missing (deleted)` : `position ${seq} appears twice` });
      if (row.prev_hash !== prev) return report({ seq, id: Number(row.id), problem: "it does not point to the previous row's hash (a row before it was removed or replaced)" });
      if (linkHash(prev, row.content) !== row.hash) return report({ seq, id: Number(row.id), problem: "its content does not match its hash (the row was altered)" });
      prev = row.hash!;
      expectedSeq++;
      checked++;
    }
    if (rows.length < BATCH) break;
    after = Number(rows.at(-1)!.seq);
  }
  const [pending] = await pg<{ n: number }[]>`select count(*)::int as n from audit_events where seq is null`;
  return { ...report(null), unsealed: pending?.n ?? 0 };
}

export const pruneInput = z.object({ olderThanDays: z.number().int().min(30, "Keep at least 30 days.").max(36500) });

/**
 * Retention, the only way rows leave the trail: deletes sealed rows older than the cutoff from the
 * start of the chain (through the database's audit_prune), records the new anchor, and audits
 * who pruned how much — in one transaction.
 */
export async function pruneAuditTrail(ctx: DomainContext, input: unknown): Promise<{ pruned: number }> {
  const { olderThanDays } = parseInput(pruneInput, input);
  authorize(ctx.actor, "audit", "write");
  await sealAuditTrail();
  return inTransaction(async (tx) => {
    // The cutoff on the database's clock, which audit_prune checks (at least 30 days) on its own.
    const [row] = await tx.execute<{ pruned: string; cutoff: string }>(
      sql`select audit_prune(c.at)::text as pruned, c.at::text as cutoff from (select now() - make_interval(days => ${olderThanDays}) as at) c`,
    );
    const pruned = Number(row?.pruned ?? 0);
    const cutoff = new Date(row!.cutoff);
    await recordAudit(tx, ctx, { action: "audit.prune", targetType: "audit_trail", targetLabel: `events before ${cutoff.toISOString().slice(0, 10)}`, after: { pruned, olderThanDays, cutoff: cutoff.toISOString() } });
    return { pruned };
  });
}

const holder = globalThis as typeof globalThis & { __iamAuditSealer?: NodeJS.Timeout };

/** Seals new rows every two seconds on every instance (the advisory lock makes one do the work). */
export function startAuditSealer(): void {
  if (holder.__iamAuditSealer) return;
  holder.__iamAuditSealer = setInterval(() => void sealAuditTrail().catch((e) => console.warn("[audit] sealing failed:", (e as Error).message)), 2_000);
  holder.__iamAuditSealer.unref?.();
}
