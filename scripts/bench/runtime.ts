import os from "node:os";
import { parseArgs } from "node:util";
import { createLocalJWKSet, jwtVerify } from "jose";
import { getDb } from "@/db/client";
import { freePort } from "@/db/embedded";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createApiToken } from "@/lib/api-tokens";
import { createEndUserSession, readEndUserSession } from "@/lib/end-user/sessions";
import { findEnvironmentByKey } from "@/lib/environments";
import { addMembers, createGroup } from "@/lib/groups";
import { createVerifier, decide } from "@/lib/runtime";
import { publishedJwks } from "@/lib/tokens/keys";
import { issuer, mintAccessToken } from "@/lib/tokens/mint";
import { createUser } from "@/lib/users";
import { startApp } from "../lib/app-process";
import { freshBenchDatabase } from "./fresh-database";
import { runBench } from "./harness";

// npm run bench:runtime -- --verifications 20000 --requests 5000 --concurrency 16
// 1. In-process: lib/runtime's verify + decide per second, beside raw `jose` jwtVerify of the same
//    token against the same key set, alternating in rounds so both see the same machine.
// 2. Over loopback HTTP: POST /api/v1/authz/check (by token, one resource) against `npm start`,
//    with `--concurrency` clients; and, for scale, the same route answering 401 without any
//    database work. Last line: JSON.

const { values } = parseArgs({
  options: { verifications: { type: "string", default: "20000" }, requests: { type: "string", default: "5000" }, concurrency: { type: "string", default: "16" } },
});
const VERIFICATIONS = Number(values.verifications);
const REQUESTS = Number(values.requests);
const CONCURRENCY = Number(values.concurrency);
const ctx = { actor: { ...SYSTEM_ACTOR, label: "bench:runtime" } };

await runBench(async (db, own) => {
  const port = await freePort();
  process.env.NEXTAUTH_URL = `http://127.0.0.1:${port}`;
  const url = await freshBenchDatabase(db, "iam_bench_runtime");
  const prod = (await findEnvironmentByKey("prod"))!;
  const genie = await createResource(ctx, { environmentId: prod.id, feature: "agent_studio", name: "Bench genie" });
  const group = await createGroup(ctx, { environmentId: prod.id, name: "Bench group" });
  const user = await createUser(ctx, { name: "Bench User", email: "bench.runtime@example.com", environmentIds: [prod.id] });
  await addMembers(ctx, { groupId: group.id, userIds: [user.id] });
  await addGrants(ctx, { environmentId: prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
  const { token: cookie } = await createEndUserSession(getDb(), { userId: user.id, environmentId: prod.id, method: "password" });
  const { token } = await mintAccessToken((await readEndUserSession("prod", cookie))!, "agent_studio");
  const jwks = await publishedJwks();

  // 1. In-process.
  const verify = createVerifier({ issuer: issuer(), jwks: async () => jwks });
  const rawKeys = createLocalJWKSet(jwks);
  const ours = async () => {
    const r = await verify(token, { audience: "agent_studio", environment: "prod" });
    if (!r.ok || !decide(r.claims, "agent_studio", genie.id).allow) throw new Error("bench token refused");
  };
  const raw = async () => {
    await jwtVerify(token, rawKeys, { issuer: issuer(), audience: "agent_studio", algorithms: ["EdDSA", "ES256"] });
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
  console.log(`in-process, ${VERIFICATIONS} each: lib/runtime verify+decide ${verifyDecidePerSec.toFixed(0)}/s, raw jose jwtVerify ${rawVerifyPerSec.toFixed(0)}/s`);

  // 2. The decision endpoint over HTTP.
  const { token: apiToken } = await createApiToken(ctx, { name: "bench component", scope: "authz", environmentIds: [prod.id] });
  own(await startApp({ ...process.env, DATABASE_URL: url, PORT: String(port) }, { timeoutMs: 600_000 }));
  const body = JSON.stringify({ token, environment: "prod", feature: "agent_studio", resource: genie.id });
  const check = async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/v1/authz/check`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` }, body });
    const json = (await res.json()) as { decisions?: { allow: boolean }[] };
    if (res.status !== 200 || !json.decisions?.[0]?.allow) throw new Error(`decision endpoint answered ${res.status}: ${JSON.stringify(json).slice(0, 300)}`);
  };
  const load = async (n: number) => {
    let next = 0;
    const t = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => { while (next++ < n) await check(); }));
    return n / ((performance.now() - t) / 1000);
  };
  await load(500);
  const decisionEndpointPerSec = await load(REQUESTS);
  // The floor Next itself sets here: the same route answering 401 before any database work.
  const floor = async (n: number) => {
    let next = 0;
    const t = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next++ < n) await (await fetch(`http://127.0.0.1:${port}/api/v1/authz/check`, { method: "POST", headers: { "content-type": "application/json" }, body })).arrayBuffer();
      }),
    );
    return n / ((performance.now() - t) / 1000);
  };
  await floor(500);
  const floorPerSec = await floor(REQUESTS);
  console.log(`the same route answering 401 before any database work (Next's own cost per request): ${floorPerSec.toFixed(0)}/s`);
  console.log(`decision endpoint over loopback, ${CONCURRENCY} clients, ${REQUESTS} requests: ${decisionEndpointPerSec.toFixed(0)}/s (machine: ${os.cpus().length} cores, Postgres ${db.embedded ? "embedded" : "from DATABASE_URL"})`);
  console.log(
    JSON.stringify({
      verifyDecidePerSec: Math.round(verifyDecidePerSec),
      rawVerifyPerSec: Math.round(rawVerifyPerSec),
      ratio: +(verifyDecidePerSec / rawVerifyPerSec).toFixed(2),
      decisionEndpointPerSec: Math.round(decisionEndpointPerSec),
    }),
  );
});
