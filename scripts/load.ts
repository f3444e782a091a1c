import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { faultWorld } from "./faults/harness";

// npm run load -- --seconds 60
// Drives, together and for the given time, on loopback against a real app instance (production
// build, its own Postgres): console reads (the users list and the audit page, as a signed-in
// admin), SCIM writes (user creates) and decision checks (POST /api/v1/authz/check with an authz
// token). Reports per kind the requests, errors and latency percentiles; the last line is JSON:
// {"seconds":60,"requests":n,"errors":e,"p95ms":{"console":…,"scim":…,"decision":…}}.
// (A loop of fetches rather than autocannon: autocannon reports p90 and p97.5, not p95.)

const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, console: { type: "string", default: "2" }, scim: { type: "string", default: "4" }, decision: { type: "string", default: "8" } } });
const seconds = Number(values.seconds);
if (!Number.isFinite(seconds) || seconds <= 0) throw new Error("--seconds must be a positive number");

const world = await faultWorld("load");
try {
  const app = await world.start({ env: { SCIM_RATE_LIMIT_PER_MINUTE: "1000000" } });
  const { SYSTEM_ACTOR } = await import("@/lib/auth/actor");
  const systemCtx = { actor: { ...SYSTEM_ACTOR, label: "load" } };
  const { findEnvironmentByKey } = await import("@/lib/environments");
  const { createDirectory } = await import("@/lib/directories");
  const { createApiToken } = await import("@/lib/api-tokens");
  const { createResource } = await import("@/lib/access/resources");
  const { addGrants } = await import("@/lib/access/grants");
  const { createGroup } = await import("@/lib/groups");
  const { createUser } = await import("@/lib/users");
  const { createConsoleMember } = await import("@/lib/console-members");
  const { signInConsoleMember } = await import("@/lib/auth/console-sign-in");

  const prod = (await findEnvironmentByKey("prod"))!;
  const { directory, token: scimToken } = await createDirectory(systemCtx, { environmentId: prod.id, name: "Load" });
  const { token: authzToken } = await createApiToken(systemCtx, { name: "load", scope: "authz" });
  const group = await createGroup(systemCtx, { environmentId: prod.id, name: "Load readers" });
  const genie = await createResource(systemCtx, { environmentId: prod.id, feature: "agent_studio", name: "Load genie" });
  await addGrants(systemCtx, { environmentId: prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
  const subjects: string[] = [];
  for (let i = 0; i < 50; i++) subjects.push((await createUser(systemCtx, { name: `Load ${i}`, email: `load.${i}@load.example`, environmentIds: [prod.id], groupIds: i % 2 ? [group.id] : [] })).email);
  const password = "load test password, long enough";
  await createConsoleMember(systemCtx, { email: "load.admin@load.example", name: "Load admin", role: "admin", password, environmentIds: [] });
  const signedIn = await signInConsoleMember({ email: "load.admin@load.example", password });
  if (!signedIn.ok) throw new Error("console sign-in failed");
  const cookie = `next-auth.session-token=${await encode({ token: { sid: signedIn.sessionId, sub: signedIn.member.id }, secret: process.env.NEXTAUTH_SECRET! })}`;

  type Kind = "console" | "scim" | "decision";
  const stats: Record<Kind, { latencies: number[]; errors: number; sample?: string }> = { console: { latencies: [], errors: 0 }, scim: { latencies: [], errors: 0 }, decision: { latencies: [], errors: 0 } };
  // The console's two pages are also timed apart: issue 2's render goal is the users page's.
  const pageLatencies: Record<string, number[]> = {};
  let seq = 0;
  const requestFor: Record<Kind, () => [string, RequestInit]> = {
    console: () => [`${app.base}/console/prod/${seq++ % 2 ? "users" : "audit"}`, { headers: { cookie } }],
    scim: () => [
      `${app.base}/scim/v2/${directory.id}/Users`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${scimToken}`, "content-type": "application/scim+json" },
        body: JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: `load.${seq}.${Date.now()}@scim.example`, name: { givenName: "Load", familyName: `S${seq++}` }, active: true }),
      },
    ],
    decision: () => [
      `${app.base}/api/v1/authz/check`,
      {
        method: "POST",
        headers: { authorization: `Bearer ${authzToken}`, "content-type": "application/json" },
        body: JSON.stringify({ environment: "prod", feature: "agent_studio", subject: subjects[seq++ % subjects.length], resource: genie.id }),
      },
    ],
  };
  const until = Date.now() + seconds * 1000;
  const client = async (kind: Kind) => {
    while (Date.now() < until) {
      const [url, init] = requestFor[kind]();
      const t = performance.now();
      try {
        const res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        const ms = performance.now() - t;
        stats[kind].latencies.push(ms);
        if (kind === "console") (pageLatencies[new URL(url).pathname.split("/").pop()!] ??= []).push(ms);
        if (res.status >= 300) {
          stats[kind].errors++;
          stats[kind].sample ??= `${res.status} ${url}`;
        }
      } catch (error) {
        stats[kind].latencies.push(performance.now() - t);
        stats[kind].errors++;
        stats[kind].sample ??= `${(error as Error).message} ${url}`;
      }
    }
  };
  console.log(`load: ${seconds} s against ${app.base}: console ×${values.console}, SCIM ×${values.scim}, decisions ×${values.decision} clients`);
  const clients = (["console", "scim", "decision"] as Kind[]).flatMap((k) => Array.from({ length: Number(values[k]) }, () => client(k)));
  await Promise.all(clients);

  const pct = (xs: number[], p: number) => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length ? Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! * 10) / 10 : null;
  };
  for (const [kind, s] of Object.entries(stats)) {
    console.log(`${kind.padEnd(8)} ${String(s.latencies.length).padStart(7)} requests, ${(s.latencies.length / seconds).toFixed(1)}/s, errors ${s.errors}${s.sample ? ` (first: ${s.sample})` : ""}, p50 ${pct(s.latencies, 50)} ms, p95 ${pct(s.latencies, 95)} ms, p99 ${pct(s.latencies, 99)} ms`);
  }
  for (const [page, xs] of Object.entries(pageLatencies)) {
    console.log(`  ${page.padEnd(6)} ${String(xs.length).padStart(7)} requests, p50 ${pct(xs, 50)} ms, p95 ${pct(xs, 95)} ms, p99 ${pct(xs, 99)} ms`);
  }
  const all = Object.values(stats);
  console.log(
    JSON.stringify({
      seconds,
      requests: all.reduce((n, s) => n + s.latencies.length, 0),
      errors: all.reduce((n, s) => n + s.errors, 0),
      p95ms: {
        ...Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, pct(s.latencies, 95)])),
        ...Object.fromEntries(Object.entries(pageLatencies).sort().map(([page, xs]) => [`console_${page}`, pct(xs, 95)])),
      },
    }),
  );
} finally {
  await world.close();
}
process.exit(0);
