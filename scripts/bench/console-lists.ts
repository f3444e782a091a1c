import { spawn } from "node:child_process";
import path from "node:path";
import { parseArgs } from "node:util";
import { encode } from "next-auth/jwt";
import { closeDb, createSql } from "@/db/client";
import { freePort } from "@/db/embedded";
import { runMigrations } from "@/db/migrate";
import { seedDemo } from "@/scripts/demo-seed";
import { seedLarge } from "@/scripts/bench/seed-large";
import { databaseUrl } from "@/test-support/urls";
import { listUsers, encodeCursor } from "@/lib/users/list";
import { dataDir, ensureDatabase, ensureSecret, openDatabase } from "../lib/runtime";

// npm run bench:console -- --users N [--runs 40] [--renders 60] [--concurrency 4] [--fresh]
// Seeds (or reuses) a database of N users in the proportions of seed:large, then measures the
// console's list queries through lib/users/list (what the page and the API call) beside the same
// query written as raw SQL and run on the same indexes, and the Users page's server
// render under concurrent load. Last line: one JSON object.

const { values } = parseArgs({
  options: {
    users: { type: "string", default: "1000000" },
    runs: { type: "string", default: "40" },
    renders: { type: "string", default: "60" },
    concurrency: { type: "string", default: "4" },
    // Drop and regenerate the data set (after a change to seed:large).
    fresh: { type: "boolean", default: false },
  },
});
const users = Number(values.users);
const runs = Number(values.runs);
const renders = Number(values.renders);
const concurrency = Number(values.concurrency);

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!.toFixed(2));
}

async function measure(run: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 3; i++) await run(); // warm caches and plans
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await run();
    samples.push(performance.now() - t);
  }
  return samples;
}

const db = await openDatabase({ quiet: true });
const database = `iam_bench_${users}`;
const url = databaseUrl(db.url, database);
let app: ReturnType<typeof spawn> | undefined;
try {
  if (values.fresh) {
    const admin = createSql(databaseUrl(db.url, "postgres"), 1);
    await admin.unsafe(`drop database if exists "${database}" with (force)`);
    await admin.end({ timeout: 5 });
  }
  await ensureDatabase(databaseUrl(db.url, "postgres"), database);
  process.env.DATABASE_URL = url;
  process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
  await runMigrations(url);
  await seedDemo({ ownerPassword: "bench-owner-password-not-used-elsewhere" });
  const sql = createSql(url, 4);
  await seedLarge(sql, { users, log: (l) => console.error(l) });

  const [dev] = await sql<{ id: string }[]>`select id from environments where key = 'dev'`;
  const [prod] = await sql<{ id: string }[]>`select id from environments where key = 'prod'`;
  const [big] = await sql<{ id: string; n: number }[]>`
    select id, member_count as n from groups where environment_id = ${dev!.id} and name = 'All Hands'`;
  const env = dev!.id;

  // The cursor 500 pages deep (found once, by OFFSET, outside the measurement).
  const [deep] = await sql<{ k: string; id: string }[]>`
    select u.created_at::text as k, u.id from users u
    where exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${env})
    order by u.created_at desc, u.id desc offset ${500 * 50 - 1} limit 1`;
  const deepCursor = encodeCursor({ k: deep!.k, id: deep!.id });

  // Raw SQL: the page query as a person would write it by hand for the same indexes.
  const rawPage = (where: string, order: string, params: unknown[], keyset = "", from = "users u") =>
    sql.unsafe(
      `select p.id, p.name, p.email, p.status, p.source, p.last_sign_in_at, p.created_at,
         array(select e.key from environment_access a join environments e on e.id = a.environment_id where a.user_id = p.id order by e.position) as environments,
         array(select g.name from group_members gm join groups g on g.id = gm.group_id
               where gm.user_id = p.id and gm.environment_id = '${env}' and g.source <> 'system' order by lower(g.name) limit 20) as groups
       from (select u.* from ${from} where ${where} ${keyset} order by ${order} limit 51) p`,
      params as never[],
    );
  // A group's members in created or name order: the membership index carrying the sort keys, as lib/users/list reads them.
  const members = (g: string) => `group_members gm join users u on u.id = gm.user_id and gm.group_id = '${g}'`;
  const inEnv = (id: string) => `exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = '${id}')`;

  const [someone] = await sql<{ email: string }[]>`
    select email from users where email like ${"%." + Math.ceil(users * 0.7777) + "@%"} limit 1`;
  const searches: Record<string, string> = { searchSmi: "smi", searchRare: "77777", searchEmail: someone!.email };
  const matches: Record<string, number> = {};
  for (const [name, q] of Object.entries(searches)) {
    const [row] = await sql<{ n: number }[]>`
      select count(*)::int as n from users u where lower(u.name || ' ' || u.email) like ${`%${q}%`}
        and exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${env})`;
    matches[name] = row!.n;
  }

  const cases: Record<string, { ours: () => Promise<unknown>; raw: () => Promise<unknown> }> = {
    firstPage: {
      ours: () => listUsers({ environmentId: env, withTotal: false }),
      raw: () => rawPage(inEnv(env), "u.created_at desc, u.id desc", []),
    },
    page500Deep: {
      ours: () => listUsers({ environmentId: env, after: deepCursor, withTotal: false }),
      raw: () => rawPage(inEnv(env), "u.created_at desc, u.id desc", [deep!.k, deep!.id], "and (u.created_at, u.id) < ($1::timestamptz, $2::uuid)"),
    },
    // Searches: a common fragment (2% of users), a rare one (about twenty) and one user's full email.
    // The raw query is the one a person would write; its plan flips with the statistics.
    ...Object.fromEntries(
      Object.entries(searches).map(([name, q]) => [
        name,
        {
          ours: () => listUsers({ environmentId: env, q, withTotal: false }),
          raw: () => rawPage(`${inEnv(env)} and lower(u.name || ' ' || u.email) like $1`, "u.created_at desc, u.id desc", [`%${q}%`]),
        },
      ]),
    ),
    sortLastSignIn: {
      ours: () => listUsers({ environmentId: env, sort: "lastSignIn", dir: "desc", withTotal: false }),
      raw: () => rawPage(inEnv(env), "coalesce(u.last_sign_in_at, '-infinity'::timestamptz) desc, u.id desc", []),
    },
    filterBigGroup: {
      ours: () => listUsers({ environmentId: env, group: big!.id, withTotal: false }),
      raw: () => rawPage("true", "gm.user_created_at desc, gm.user_id desc", [], "", members(big!.id)),
    },
    filterEnvStatus: {
      ours: () => listUsers({ environmentId: prod!.id, status: ["suspended"], withTotal: false }),
      raw: () => rawPage(`${inEnv(prod!.id)} and u.status in ('suspended')`, "u.created_at desc, u.id desc", []),
    },
    bigGroupMembersPage: {
      ours: () => listUsers({ environmentId: env, group: big!.id, sort: "name", dir: "asc", withTotal: false }),
      raw: () => rawPage("true", "gm.user_name_key asc, gm.user_id asc", [], "", members(big!.id)),
    },
    firstPageWithCount: {
      ours: () => listUsers({ environmentId: prod!.id, status: ["active"] }),
      raw: async () => {
        await rawPage(`${inEnv(prod!.id)} and u.status in ('active')`, "u.created_at desc, u.id desc", []);
        await sql.unsafe(`select count(*) from (select 1 from users u where ${inEnv(prod!.id)} and u.status in ('active') limit 10001) t`);
      },
    },
  };

  const queries: Record<string, { p50: number; p95: number; rawP50: number; rawP95: number; q?: string; matches?: number }> = {};
  for (const [name, c] of Object.entries(cases)) {
    const ours = await measure(c.ours);
    const raw = await measure(c.raw);
    queries[name] = {
      p50: percentile(ours, 50), p95: percentile(ours, 95), rawP50: percentile(raw, 50), rawP95: percentile(raw, 95),
      ...(name in matches ? { q: searches[name]!, matches: matches[name]! } : {}),
    };
    console.error(`${name.padEnd(22)} p50 ${queries[name].p50} ms  p95 ${queries[name].p95} ms  raw p95 ${queries[name].rawP95} ms${name in matches ? `  (${matches[name]} matches in DEV)` : ""}`);
  }

  // The Users page rendered by the production server under 4 concurrent clients.
  let pageRenderP95: number | null = null;
  const nextBin = path.join(process.cwd(), "node_modules", "next", "dist", "bin", "next");
  const buildId = path.join(process.cwd(), ".next", "BUILD_ID");
  if ((await import("node:fs")).existsSync(buildId)) {
    const port = await freePort();
    const [member] = await sql<{ id: string }[]>`select id from console_members where role = 'owner' limit 1`;
    const [session] = await sql<{ id: string }[]>`
      insert into console_sessions (member_id, expires_at) values (${member!.id}, now() + interval '2 hours') returning id`;
    const cookie = `next-auth.session-token=${await encode({ token: { sid: session!.id }, secret: process.env.NEXTAUTH_SECRET! })}`;
    app = spawn(process.execPath, [nextBin, "start", "-p", String(port)], {
      env: { ...process.env, DATABASE_URL: url, NEXTAUTH_URL: `http://localhost:${port}`, NODE_ENV: "production" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    await new Promise<void>((resolve) => app!.stdout!.on("data", (c: Buffer) => /Ready/i.test(c.toString()) && resolve()));
    const target = `http://localhost:${port}/console/dev/users`;
    const fetchPage = async () => {
      const t = performance.now();
      const r = await fetch(target, { headers: { cookie } });
      const text = await r.text();
      if (r.status !== 200 || !text.includes("Who may enter")) throw new Error(`page render failed: ${r.status}`);
      return performance.now() - t;
    };
    for (let i = 0; i < 5; i++) await fetchPage();
    const samples: number[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next++ < renders) samples.push(await fetchPage());
      }),
    );
    pageRenderP95 = percentile(samples, 95);
    console.error(`users page render      p50 ${percentile(samples, 50)} ms  p95 ${pageRenderP95} ms (${concurrency} concurrent clients)`);
  } else {
    console.error("No production build (.next/BUILD_ID): run `npm run build` to measure the page render.");
  }
  await sql.end({ timeout: 5 });
  console.log(JSON.stringify({ users, queries, pageRenderP95 }));
} finally {
  app?.kill("SIGTERM");
  await closeDb();
  await db.stop();
}
