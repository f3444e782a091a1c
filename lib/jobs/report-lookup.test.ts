import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { systemCtx } from "@/test-support/fixtures";
import { enqueueJob, firstItemSeqs, saveItems } from "./index";

// An import checks each batch of 500 rows against the report so far (a row naming an email an
// earlier row named is a duplicate); a resumed bulk job checks its users likewise. That check must
// read the batch's keys by index, whatever the statistics and however small the report was when
// the connection first ran it: otherwise every batch reads the whole report, and a file's import
// grows with the square of its length (an import of 40,000 rows took more than 20 s).

const rowsRead = async (tx: Executor) => {
  const [r] = await tx.execute<{ n: number }>(sql`select (seq_tup_read + coalesce(idx_tup_fetch, 0))::int as n from pg_stat_xact_user_tables where relname = 'job_items'`);
  return r?.n ?? 0;
};

describe("a job's report, looked up by key", () => {
  it("reads only the asked keys, batch after batch on one connection, without statistics", async () => {
    const job = await enqueueJob(getDb(), systemCtx, { kind: "import_dry_run", environmentId: null, params: {} });
    const key = (i: number) => `row${i}@example.com`;
    const { found, read } = await getDb().transaction(async (tx) => {
      // No statistics, as before autovacuum's first analyze.
      await tx.execute(sql`delete from pg_statistic where starelid = 'job_items'::regclass`);
      let seq = 0;
      const found: Map<string, number>[] = [];
      // 40 batches as an import makes them: look the batch's keys up, then save its report lines.
      for (let batch = 0; batch < 40; batch++) {
        const keys = Array.from({ length: 500 }, (_, i) => key(batch * 500 + i));
        found.push(await firstItemSeqs(tx, job.id, keys));
        await saveItems(tx, job.id, keys.map((k) => ({ seq: ++seq, key: k, outcome: "create", detail: null })));
      }
      // A duplicate line: the same key again, later in the report.
      await saveItems(tx, job.id, [{ seq: ++seq, key: key(7), outcome: "error", detail: "duplicate of row 8" }]);
      const before = await rowsRead(tx);
      found.push(await firstItemSeqs(tx, job.id, [key(7), key(19_999), ...Array.from({ length: 498 }, (_, i) => key(20_000 + i))]));
      return { found, read: (await rowsRead(tx)) - before };
    });
    // Each batch's keys were new when it was looked up.
    expect(found.slice(0, 40).every((m) => m.size === 0)).toBe(true);
    // The last lookup reads the three lines of the two keys the report holds, not the report's 20,001.
    expect(read).toBe(3);
    // And finds each with its first line (the duplicate's line is later).
    expect(found.at(-1)).toEqual(new Map([[key(7), 8], [key(19_999), 20_000]]));
  });

  it("answers an empty list without asking", async () => {
    const job = await enqueueJob(getDb(), systemCtx, { kind: "bulk_users", environmentId: null, params: {} });
    expect(await firstItemSeqs(getDb(), job.id, [])).toEqual(new Map());
  });
});
