import os from "node:os";
import { parseArgs } from "node:util";
import { createLocalJWKSet, jwtVerify } from "jose";
import { getDb, getSql } from "@/db/client";
import { freePort } from "@/db/embedded";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createApiToken } from "@/lib/api-tokens";
import { createEndUserSession, readEndUserSession } from "@/lib/end-user/sessions";
import { findEnvironmentByKey } from "@/lib/environments";
import { addMembers, createGroup } from "@/lib/groups";
import { decide as decideLive } from "@/lib/access/policy";
import { decisionCache } from "@/lib/access/decision-cache";
import { createVerifier, decide } from "@iam-console/runtime";
import { publishedJwks } from "@/lib/tokens/keys";
import { issuer, mintAccessToken } from "@/lib/tokens/mint";
import { createUser } from "@/lib/users";
import { startApp } from "../lib/app-process";
import { freshBenchDatabase } from "./fresh-database";
import { runBench } from "./harness";
import { request } from "./http-client";
import { seedLarge } from "./seed-large";

// npm run bench:runtime -- --verifications 20000 --requests 5000 --concurrency 16 --revocations 60
// 1. In-process: @iam-console/runtime's verify + decide per second, beside raw `jose` jwtVerify of the same
//    token against the same key set, alternating in rounds so both see the same machine; and the
//    live policy's `decide` from the decision cache beside the same from the database.
// 2. Over loopback HTTP: POST /api/v1/authz/check (by token, one resource) against an instance,
//    with `--concurrency` clients (throughput and p99); and, for scale, the same route answering
//    401 without any database work.
// 3. Revocation lag across two instances: remove the token's user from the granted group through
//    instance A's REST API, and time from A's answer (committed) until instance B's decision
//    endpoint first denies (`--revocations` times; B is polled back to back by 2 clients; the
//    time from sending the change is printed too). Last line: JSON.

const { values } = parseArgs({
  options: {
    verifications: { type: "string", default: "20000" },
    requests: { type: "string", default: "5000" },
    concurrency: { type: "string", default: "16" },
    revocations: { type: "string", default: "60" },
    // Instead of the above: fill the decision cache from a large data set (scripts/bench/seed-large.ts)
    // of this many users and report its memory (run with NODE_OPTIONS=--expose-gc for exact heaps).
    "memory-users": { type: "string", default: "0" },
  },
});
const VERIFICATIONS = Number(values.verifications);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const REVOCATIONS = Number(values.revocations);
const MEMORY_USERS = Number(values["memory-users"]);
const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.99) - 1)]!;
const ctx = { actor: { ...SYSTEM_ACTOR, label: "bench:runtime" } };

await runBench(async (db, own) => {
  const port = await freePort();
  process.env.NEXTAUTH_URL = `http://127.0.0.1:${port}`;
  const url = await freshBenchDatabase(db, "iam_bench_runtime");
  // An app instance on `port` (both share NEXTAUTH_URL, the first one's, as the tokens' issuer).
  // Today `npm start` (Next); the server in front of Next plugs in here.
  const startInstance = async (instancePort: number) => {
    own(await startApp({ ...process.env, DATABASE_URL: url, PORT: String(instancePort) }, { timeoutMs: 600_000 }));
    return `http://127.0.0.1:${instancePort}`;
  };
  const prod = (await findEnvironmentByKey("prod"))!;
  const genie = await createResource(ctx, { environmentId: prod.id, feature: "agent_studio", name: "Bench genie" });
  const group = await createGroup(ctx, { environmentId: prod.id, name: "Bench group" });
  const user = await createUser(ctx, { name: "Bench User", email: "bench.runtime@example.com", environmentIds: [prod.id] });
  await addMembers(ctx, { groupId: group.id, userIds: [user.id] });
  await addGrants(ctx, { environmentId: prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
  const { token: cookie } = await createEndUserSession(getDb(), { userId: user.id, environmentId: prod.id, method: "password" });
  const { token } = await mintAccessToken((await readEndUserSession("prod", cookie))!, "agent_studio");
  const jwks = await publishedJwks();
  if (MEMORY_USERS > 0) return memory(prod.id);

  // 1. In-process.
  const verify = createVerifier({ issuer: issuer(), jwks: async () => jwks, environment: "prod" });
  const rawKeys = createLocalJWKSet(jwks);
  const ours = async () => {
    const r = await verify(token, { audience: "agent_studio" });
    if (!r.ok || !decide(r.claims, "agent_studio", genie.id).allow) throw new Error("bench token refused");
  };
  const raw = async () => {
    await jwtVerify(token, rawKeys, { issuer: issuer(), audience: "prod:agent_studio", algorithms: ["EdDSA", "ES256"] });
  };
  const timeLoop = async (fn: () => Promise<void>, n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) await fn();
    return performance.now() - t;
  };
  await timeLoop(ours, 2000);
  await timeLoop(raw, 2000);
  let oursMs = 0;
  let rawMs = 0;
  const rounds = 10;
  for (let r = 0; r < rounds; r++) {
    oursMs += await timeLoop(ours, VERIFICATIONS / rounds);
    rawMs += await timeLoop(raw, VERIFICATIONS / rounds);
  }
  const verifyDecidePerSec = VERIFICATIONS / (oursMs / 1000);
  const rawVerifyPerSec = VERIFICATIONS / (rawMs / 1000);
  console.log(`in-process, ${VERIFICATIONS} each: @iam-console/runtime verify+decide ${verifyDecidePerSec.toFixed(0)}/s, raw jose jwtVerify ${rawVerifyPerSec.toFixed(0)}/s`);

  // The live policy in-process: from the decision cache, and from the database (one statement).
  const cache = decisionCache()!;
  await cache.whenLive();
  const liveInput = { environment: prod, user: { id: user.id }, feature: "agent_studio" as const, resources: [genie.id] };
  const livePerSec = async (source: "default" | "database", n: number) => {
    const t = performance.now();
    for (let i = 0; i < n; i++) if (!(await decideLive(liveInput, source))[0]!.allow) throw new Error("bench user refused");
    return n / ((performance.now() - t) / 1000);
  };
  await livePerSec("default", 500);
  await livePerSec("database", 500);
  const fromMemoryPerSec = await livePerSec("default", VERIFICATIONS);
  const fromDatabasePerSec = await livePerSec("database", Math.min(VERIFICATIONS, 5000));
  console.log(`in-process live decide(): from the decision cache ${fromMemoryPerSec.toFixed(0)}/s, from the database ${fromDatabasePerSec.toFixed(0)}/s (${JSON.stringify(cache.stats())})`);

  // 2. The decision endpoint over HTTP.
  const { token: apiToken } = await createApiToken(ctx, { name: "bench component", scope: "authz", environmentIds: [prod.id] });
  const a = await startInstance(port);
  const body = JSON.stringify({ token, environment: "prod", feature: "agent_studio", resource: genie.id });
  const ask = async (base: string) => {
    const res = await request(`${base}/api/v1/authz/check`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` }, body });
    const json = JSON.parse(res.text) as { decisions?: { allow: boolean; reason: string }[] };
    if (res.status !== 200 || !json.decisions?.[0]) throw new Error(`decision endpoint answered ${res.status}: ${res.text.slice(0, 300)}`);
    return json.decisions[0];
  };
  const check = async () => {
    const d = await ask(a);
    if (!d.allow) throw new Error(`decision endpoint refused: ${d.reason}`);
  };
  const load = async (n: number) => {
    let next = 0;
    const latencies: number[] = [];
    const t = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) {
          const s = performance.now();
          await check();
          latencies.push(performance.now() - s);
        }
      }),
    );
    return { perSec: n / ((performance.now() - t) / 1000), p99Ms: p99(latencies) };
  };
  await load(500);
  const { perSec: decisionEndpointPerSec, p99Ms: decisionP99Ms } = await load(REQUESTS);
  // The floor: the same server answering a constant (GET /healthz, no database work), same clients.
  const floor = async (n: number) => {
    let next = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) if ((await request(`${a}/healthz`)).status !== 200) throw new Error("/healthz did not answer 200");
      }),
    );
    return n / ((performance.now() - t) / 1000);
  };
  await floor(500);
  const floorPerSec = await floor(REQUESTS);
  console.log(`the same server answering a constant (GET /healthz): ${floorPerSec.toFixed(0)}/s`);
  console.log(`decision endpoint over loopback, ${CONCURRENCY} clients, ${REQUESTS} requests: ${decisionEndpointPerSec.toFixed(0)}/s, p99 ${decisionP99Ms.toFixed(1)} ms (machine: ${os.cpus().length} cores, Postgres ${db.embedded ? "embedded" : "from DATABASE_URL"})`);

  // 3. Revocation lag: the change through A, the denial seen on B.
  const b = await startInstance(await freePort());
  const { token: adminToken } = await createApiToken(ctx, { name: "bench admin", scope: "write" });
  // The user leaves the granted group and joins it again (a suspension would also end the token's
  // session for good, and every round would need a new token).
  const admin = async (action: "members/remove" | "members") => {
    const res = await fetch(`${a}/api/v1/groups/${group.id}/${action}`, { method: "POST", headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ userIds: [user.id] }) });
    if (!res.ok) throw new Error(`${action} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  };
  /** Polls B with 2 clients back to back until a decision sent after `from` says `reason`; ms from `from`. */
  const seenOnB = async (reason: string, from: number, timeoutMs = 10_000) => {
    let seen: number | undefined;
    let last = "";
    const deadline = from + timeoutMs;
    await Promise.all(
      [0, 1].map(async () => {
        while (seen === undefined) {
          if (performance.now() > deadline) throw new Error(`B did not answer ${reason} within ${timeoutMs} ms (last: ${last})`);
          const sent = performance.now();
          const d = await ask(b);
          last = d.reason;
          if (d.reason === reason && sent >= from) seen ??= performance.now() - from;
        }
      }),
    );
    return seen!;
  };
  await seenOnB("granted", performance.now(), 120_000);
  const lags: number[] = [];
  const lagsFromCommit: number[] = [];
  for (let i = 0; i < REVOCATIONS; i++) {
    await seenOnB("granted", performance.now()); // B answers from its memory again
    const sent = performance.now();
    const denied = seenOnB("no_grant", sent);
    await admin("members/remove");
    const committed = performance.now() - sent;
    const lag = await denied;
    lags.push(lag);
    lagsFromCommit.push(Math.max(0, lag - committed));
    await admin("members");
  }
  // The lag from the commit: A has answered (the change is committed) until B denies. The figure
  // from sending the change also counts A's own request through Next (printed beside it).
  const revocationLagP99Ms = p99(lagsFromCommit);
  console.log(
    `revocation lag across two instances, ${REVOCATIONS} group removals: from sending the change to A until B denies p50 ${[...lags].sort((x, y) => x - y)[Math.floor(lags.length / 2)]!.toFixed(1)} ms, p99 ${p99(lags).toFixed(1)} ms; from A's answer (committed) until B denies p99 ${revocationLagP99Ms.toFixed(1)} ms`,
  );
  console.log(
    JSON.stringify({
      verifyDecidePerSec: Math.round(verifyDecidePerSec),
      rawVerifyPerSec: Math.round(rawVerifyPerSec),
      ratio: +(verifyDecidePerSec / rawVerifyPerSec).toFixed(2),
      decisionEndpointPerSec: Math.round(decisionEndpointPerSec),
      decisionP99Ms: +decisionP99Ms.toFixed(1),
      floorPerSec: Math.round(floorPerSec),
      revocationLagP99Ms: +revocationLagP99Ms.toFixed(1),
    }),
  );
});

/**
 * The decision cache's memory with a large data set: every user of PROD (40% of the seed) decided
 * once for Agent Studio as a whole (a miss each: the facts are read and kept, up to the cap), heap
 * measured before and after. Some groups hold feature-wide grants so entries carry grants.
 */
async function memory(prodId: string): Promise<void> {
  const sql = getSql();
  const t = performance.now();
  await seedLarge(sql, { users: MEMORY_USERS, log: (line) => console.log(line) });
  await sql`insert into access_grants (environment_id, feature, group_id)
    select ${prodId}::uuid, 'agent_studio', id from groups where environment_id = ${prodId}::uuid and source = 'manual' order by id limit 200`;
  const ids = (await sql<{ user_id: string }[]>`select user_id from environment_access where environment_id = ${prodId}::uuid`).map((r) => r.user_id);
  console.log(`seeded ${MEMORY_USERS.toLocaleString("en")} users (${ids.length.toLocaleString("en")} in PROD) in ${((performance.now() - t) / 1000).toFixed(0)} s`);
  const gc = (globalThis as { gc?: () => void }).gc;
  const heap = () => (gc?.(), process.memoryUsage().heapUsed / 2 ** 20);
  const cache = decisionCache()!;
  await cache.whenLive();
  const before = heap();
  const prod = { id: prodId, key: "prod" };
  let next = 0;
  let granted = 0;
  const t2 = performance.now();
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < ids.length) {
        const [d] = await decideLive({ environment: prod, user: { id: ids[next++]! }, feature: "agent_studio", resources: [null] });
        if (d!.allow) granted++;
      }
    }),
  );
  const after = heap();
  const stats = cache.stats();
  const perUser = ((after - before) * 2 ** 20) / Math.max(1, stats.users);
  console.log(`decided ${ids.length.toLocaleString("en")} users (${granted.toLocaleString("en")} granted) in ${((performance.now() - t2) / 1000).toFixed(0)} s; cache ${JSON.stringify(stats)}`);
  console.log(`heap ${before.toFixed(1)} MiB → ${after.toFixed(1)} MiB (${gc ? "after gc" : "no --expose-gc: approximate"}); about ${perUser.toFixed(0)} bytes per cached user; rss ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  console.log(JSON.stringify({ memoryUsers: MEMORY_USERS, prodUsers: ids.length, cachedUsers: stats.users, heapGrowthMiB: +(after - before).toFixed(1), bytesPerCachedUser: Math.round(perUser) }));
}
