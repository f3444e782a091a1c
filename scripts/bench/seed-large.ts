import type postgres from "postgres";
import { DEMO_ENVIRONMENTS, FIRST_NAMES, LAST_NAMES } from "@/scripts/demo-seed";

// A large data set for benchmarks, generated inside Postgres (generate_series, set-based inserts)
// so a million users take minutes, not hours. Proportions for N users: 3 environments (all users
// in DEV, 60% in TEST, 40% in PROD), N/100 groups per environment, about 5N memberships besides
// Everyone, and one "All Hands" group of min(10,000, N/100) members per environment.

export const LARGE_DOMAIN = "bench.example.org";

export type LargeSeedOptions = { users: number; log?: (line: string) => void };

export type LargeSeedShape = { users: number; groupsPerEnvironment: number; bigGroupMembers: number };

export function largeShape(users: number): LargeSeedShape {
  return {
    users,
    groupsPerEnvironment: Math.max(10, Math.round(users / 100)),
    bigGroupMembers: Math.min(10_000, Math.max(10, Math.round(users / 100))),
  };
}

const arr = (values: readonly string[]) => `ARRAY[${values.map((v) => `'${v.replace(/'/g, "''")}'`).join(",")}]`;

/** Runs in one transaction: a failure leaves nothing half-generated. */
export async function seedLarge(client: postgres.Sql, options: LargeSeedOptions): Promise<LargeSeedShape> {
  return client.begin((tx) => generate(tx as unknown as postgres.Sql, options)) as Promise<LargeSeedShape>;
}

async function generate(sql: postgres.Sql, options: LargeSeedOptions): Promise<LargeSeedShape> {
  const log = options.log ?? (() => {});
  const shape = largeShape(options.users);
  const t0 = Date.now();
  const step = async (label: string, run: () => Promise<unknown>) => {
    const t = Date.now();
    await run();
    log(`  ${label} (${((Date.now() - t) / 1000).toFixed(1)} s)`);
  };

  const [{ existing } = { existing: 0 }] = await sql<{ existing: number }[]>`
    select count(*)::int as existing from users where email like ${"%@" + LARGE_DOMAIN}`;
  if (existing >= shape.users) {
    log(`Large data set already present (${existing.toLocaleString("en")} users).`);
    return shape;
  }
  if (existing > 0) throw new Error(`A partial large data set (${existing} users) exists; use a fresh database.`);

  const envs = await sql<{ id: string; key: string; everyone: string }[]>`
    select e.id, e.key, g.id as everyone from environments e
    join groups g on g.environment_id = e.id and g.source = 'system'
    where e.key in ${sql(DEMO_ENVIRONMENTS.map((e) => e.key))} order by e.position`;
  if (envs.length !== 3) throw new Error("Run the demo seed first (the three environments are missing).");
  const share: Record<string, number> = { dev: 100, test: 60, prod: 40 };

  // Bulk-load mode: skip per-row foreign-key and trigger work (the rows reference rows just read and
  // carry the users' sort keys themselves), then recount group sizes once at the end. Needs a superuser (the embedded server is one).
  const [{ superuser } = { superuser: false }] = await sql<{ superuser: boolean }[]>`
    select rolsuper as superuser from pg_roles where rolname = current_user`;
  if (superuser) await sql.unsafe(`set local session_replication_role = replica`);

  const envKeysExpr = `concat_ws(',', ${envs.map((e) => `case when (i * 37) % 100 < ${share[e.key]} then '${e.key}' end`).join(", ")})`;
  log(`Generating ${shape.users.toLocaleString("en")} users…`);
  await step("users", () =>
    sql.unsafe(`
      insert into users (email, name, status, source, last_sign_in_at, created_at, updated_at, environment_keys)
      select
        lower(f.first) || '.' || lower(l.last) || '.' || i || '@${LARGE_DOMAIN}',
        f.first || ' ' || l.last,
        case when i % 100 < 90 then 'active' when i % 100 < 94 then 'invited' when i % 100 < 99 then 'suspended' else 'deprovisioned' end,
        case when i % 20 < 10 then 'import' when i % 20 < 16 then 'scim' when i % 20 < 19 then 'jit' else 'manual' end,
        case when i % 100 between 90 and 93 then null else now() - make_interval(secs => (hashint4(i) & 2147483647) % 7776000) end,
        now() - make_interval(mins => ${shape.users} - i),
        now(),
        -- the keys of the environments granted below (users are numbered by creation, so n = i)
        ${envKeysExpr}
      from generate_series(1, ${shape.users}) as i
      cross join lateral (select (${arr(FIRST_NAMES.map(ascii))})[1 + i % ${FIRST_NAMES.length}] as first) f
      cross join lateral (select (${arr(LAST_NAMES.map(ascii))})[1 + (i / ${FIRST_NAMES.length}) % ${LAST_NAMES.length}] as last) l`),
  );

  // Users get a dense number (by creation) so access and memberships can be assigned arithmetically.
  await sql.unsafe(`create temporary table bench_users on commit drop as
    select id, created_at, lower(name) as name_key, row_number() over (order by created_at, id) as n
    from users where email like '%@${LARGE_DOMAIN}'`);
  await sql.unsafe(`create index on bench_users (n)`);

  for (const env of envs) {
    const pct = share[env.key]!;
    await step(`${env.key}: ${shape.groupsPerEnvironment.toLocaleString("en")} groups`, () =>
      sql.unsafe(`insert into groups (environment_id, name, description, source)
        select '${env.id}'::uuid, 'All Hands', 'Everyone in the company', 'manual'
        union all
        select '${env.id}'::uuid,
          (ARRAY['Engineering','Support','Finance','Sales','Operations','Marketing','Legal','Research','Design','Security'])[1 + g % 10]
            || ' ' || lpad(g::text, 5, '0'),
          '', case when g % 3 = 0 then 'scim' else 'manual' end
        from generate_series(1, ${shape.groupsPerEnvironment - 1}) g`),
    );
    await step(`${env.key}: memberships`, async () => {
      await sql.unsafe(`create temporary table env_groups on commit drop as
        select id, row_number() over (order by name) - 1 as k from groups
        where environment_id = '${env.id}'::uuid and source <> 'system' and name <> 'All Hands'`);
      await sql.unsafe(`create index on env_groups (k)`);
      const groupCount = shape.groupsPerEnvironment - 1;
      // Two or three groups per user with access, spread arithmetically; a rare repeat is dropped.
      await sql.unsafe(`insert into group_members (group_id, user_id, environment_id, source, user_created_at, user_name_key)
        select g.id, u.id, '${env.id}'::uuid, 'manual', u.created_at, u.name_key
        from bench_users u
        cross join generate_series(0, 1 + (u.n % 2)::int) j
        join env_groups g on g.k = (u.n * 7 + j * 1237) % ${groupCount}
        where (u.n * 37) % 100 < ${pct}
        on conflict do nothing`);
      await sql.unsafe(`insert into group_members (group_id, user_id, environment_id, source, user_created_at, user_name_key)
        select (select id from groups where environment_id = '${env.id}'::uuid and name = 'All Hands'), id, '${env.id}'::uuid, 'manual', created_at, name_key
        from bench_users where (n * 37) % 100 < ${pct} order by n limit ${shape.bigGroupMembers}`);
      await sql.unsafe(`drop table env_groups`);
    });
    // Access rows come last so each carries its group count (what the membership triggers keep).
    await step(`${env.key}: environment access (${pct}%) and Everyone`, async () => {
      await sql.unsafe(`insert into environment_access (user_id, environment_id, source, group_count)
        select b.id, '${env.id}'::uuid, 'import', coalesce(c.n, 0) from bench_users b
        left join (select user_id, count(*)::int as n from group_members
                   where environment_id = '${env.id}'::uuid and source <> 'system' group by user_id) c on c.user_id = b.id
        where (b.n * 37) % 100 < ${pct}`);
      await sql.unsafe(`insert into group_members (group_id, user_id, environment_id, source, user_created_at, user_name_key)
        select '${env.everyone}'::uuid, id, '${env.id}'::uuid, 'system', created_at, name_key from bench_users where (n * 37) % 100 < ${pct}`);
    });
  }
  await sql.unsafe(`drop table bench_users`);
  if (superuser) {
    await sql.unsafe(`set local session_replication_role = origin`);
    // What the triggers would have kept (per-environment group counts and environment keys were
    // written with the rows).
    await step("group sizes", () =>
      sql.unsafe(`update groups g set member_count = c.n
        from (select group_id, count(*)::int as n from group_members group by group_id) c
        where g.id = c.group_id and g.member_count <> c.n`),
    );
  }
  await step("analyze", () => sql.unsafe(`analyze`));
  await sql`insert into audit_events (actor_type, actor_label, action, target_type, target_label, after)
    values ('system', 'seed:large', 'seed.large', 'account', 'large data set', ${JSON.stringify(shape)}::jsonb)`;
  log(`Done in ${((Date.now() - t0) / 1000).toFixed(0)} s.`);
  return shape;
}

function ascii(s: string): string {
  return s.normalize("NFD").replace(/[\u0300-\u036f]/g, "");
}
