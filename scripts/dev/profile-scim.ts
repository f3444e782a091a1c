import fs from "node:fs";
import { Session } from "node:inspector/promises";
import { rereadEnv } from "@/env";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { createDirectory } from "@/lib/directories";
import { findEnvironmentByKey } from "@/lib/environments";
import { dispatchMachine } from "@/lib/doors/server/routes";
import { freshBenchDatabase } from "../bench/fresh-database";
import { runBench } from "../bench/harness";
import { cpuPerOperation, cpuSnapshot } from "../bench/cpu";

// Developer aid: SCIM creates called through the machine-door routing in-process (no HTTP), with
// 8 concurrent clients, under the V8 CPU profiler; prints the self-time top of the profile and
// writes it to scim.cpuprofile. Where a create's time goes, without the HTTP stack.
// COUNT_QUERIES=1 also counts the statements sent, by their first 90 characters.
const counter = new Map<string, number>();
if (process.env.COUNT_QUERIES) (globalThis as { __iamQueryCounter?: Map<string, number> }).__iamQueryCounter = counter;
await runBench(async (db) => {
  process.env.SCIM_RATE_LIMIT_PER_MINUTE = "1000000000";
  rereadEnv();
  await freshBenchDatabase(db, "iam_profile_scim");
  const env = (await findEnvironmentByKey("test"))!;
  const { directory, token } = await createDirectory({ actor: SYSTEM_ACTOR }, { environmentId: env.id, name: "profile" });
  const url = `http://localhost/scim/v2/${directory.id}/Users`;
  let n = 0;
  const create = async (prefix: string) => {
    const i = n++;
    const res = (await dispatchMachine(new Request(url, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" }, body: JSON.stringify({ userName: `${prefix}${i}@bench.example`, displayName: `Bench ${i}`, emails: [{ value: `${prefix}${i}@bench.example`, primary: true }] }) })))!;
    if (res.status !== 201) throw new Error(`${res.status} ${await res.text()}`);
  };
  const run = async (count: number, prefix: string) => {
    const end = n + count;
    const t = performance.now();
    await Promise.all(Array.from({ length: 8 }, async () => { while (n < end) await create(prefix); }));
    return count / ((performance.now() - t) / 1000);
  };
  await run(300, "warm-");
  counter.clear();
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const before = cpuSnapshot(null);
  const rate = await run(3000, "user-");
  const cpu = cpuPerOperation(before, cpuSnapshot(null), 3000);
  const { profile } = await session.post("Profiler.stop");
  console.log(`CPU per create (ms): this process ${cpu.self} (profiler included), Postgres ${cpu.postgres}`);
  fs.writeFileSync("scim.cpuprofile", JSON.stringify(profile));
  const self = new Map<string, number>();
  const dt = profile.timeDeltas ?? [];
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  (profile.samples ?? []).forEach((id, k) => {
    const node = byId.get(id)!;
    const f = node.callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + (dt[k] ?? 0));
  });
  if (process.env.COUNT_QUERIES) {
    console.log("decision cache", JSON.stringify((await import("@/lib/access/decision-cache")).decisionCache()?.stats()));
    const all = [...counter.values()].reduce((a, b) => a + b, 0);
    console.log(`queries: ${all} (${(all / 3000).toFixed(2)} per create)`);
    for (const [q, c] of [...counter.entries()].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(c).padStart(6), q.replace(/\s+/g, " "));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`in-process creates/s: ${rate.toFixed(0)}; profile ${(total / 1e6).toFixed(1)} s`);
  for (const [k, v] of [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(((100 * v) / total).toFixed(1).padStart(5) + "%", k);
});
