import { parseArgs } from "node:util";
import { closeDb } from "@/db/client";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { importItems, inspectUpload, saveUpload, startImport } from "@/lib/import/csv-import";
import { getJob } from "@/lib/jobs";
import { runPendingJobs } from "@/lib/jobs/worker";
import { openDatabase } from "../lib/runtime";
import { freshBenchDatabase } from "./fresh-database";

// npm run bench:import -- --rows 1000000
// Generates a CSV of N rows on the fly (never whole in memory), uploads it as a stream, runs the
// dry run and the apply, and prints their durations and the process's peak memory. Last line: JSON.

const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" } } });
const rows = Number(values.rows);

function csvStream(n: number): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let i = 0;
  return new ReadableStream({
    pull(controller) {
      if (i === 0) controller.enqueue(encoder.encode("email,name,environments,groups_dev\n"));
      const lines: string[] = [];
      for (let k = 0; k < 5000 && i < n; k++, i++) lines.push(`imported${i}@bulk.example.org,Imported Person ${i},dev${i % 3 === 0 ? ";test" : ""},${i % 2 ? "Engineering" : "Support;Sales"}`);
      if (lines.length) controller.enqueue(encoder.encode(lines.join("\n") + "\n"));
      if (i >= n) controller.close();
    },
  });
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200);
const db = await openDatabase({ quiet: true });
const database = `iam_bench_import`;
try {
  await freshBenchDatabase(db, database);
  const env = (await (await import("@/lib/environments")).findEnvironmentByKey("dev"))!;
  const ctx = { actor: { ...SYSTEM_ACTOR, label: "bench:import" } };

  let t = performance.now();
  const upload = await saveUpload(csvStream(rows), "bench.csv", "bench");
  const uploadSeconds = (performance.now() - t) / 1000;
  const { mapping } = await inspectUpload(upload.id);
  const timed = async (apply: boolean) => {
    const job = await startImport(ctx, { uploadId: upload.id, environmentId: env.id, mapping, apply });
    t = performance.now();
    await runPendingJobs();
    const done = await getJob(job.id);
    if (done.status !== "succeeded") throw new Error(`${apply ? "apply" : "dry run"} failed: ${done.error}`);
    return { seconds: (performance.now() - t) / 1000, summary: done.summary, jobId: job.id };
  };
  const dry = await timed(false);
  console.error(`dry run: ${dry.seconds.toFixed(1)} s`, dry.summary);
  const applied = await timed(true);
  console.error(`apply: ${applied.seconds.toFixed(1)} s`, applied.summary);
  const again = await timed(true);
  console.error(`re-import: ${again.seconds.toFixed(1)} s`, again.summary);
  const errors = await importItems(applied.jobId, { outcome: "error", limit: 5 });
  console.log(
    JSON.stringify({
      rows,
      bytes: upload.bytes,
      uploadSeconds: Number(uploadSeconds.toFixed(1)),
      dryRunSeconds: Number(dry.seconds.toFixed(1)),
      applySeconds: Number(applied.seconds.toFixed(1)),
      reimportSeconds: Number(again.seconds.toFixed(1)),
      applied: applied.summary,
      reimport: again.summary,
      errors: errors.length,
      peakRssMiB: Math.round(peakRss / 1024 / 1024),
    }),
  );
} finally {
  clearInterval(sampler);
  await closeDb();
  await db.stop();
}
