import type postgres from "postgres";

/**
 * The rows the rules write for `n` SCIM creates (the user, the directory's user, environment access,
 * two audit rows, the Everyone membership; their triggers keep the counts, the ledger and the
 * decision caches), in one transaction of two pipelined statements, straight through postgres.js:
 * no HTTP, no parsing, no checks. Users `<prefix><from>` to `<prefix><from + n - 1>`@bench.example.
 */
export function createRows(pg: postgres.Sql, o: { environmentId: string; directoryId: string; prefix: string; from: number; n: number }) {
  const { environmentId, directoryId, prefix, from, n } = o;
  return pg.begin((tx) => [
    tx`with u as (
        insert into users (email, name, source, environment_keys, email_verified_at, email_verified_by, email_verified_environment_id)
        select ${prefix} || i || '@bench.example', 'Ceiling ' || i, 'scim', 'test', now(), 'directory', ${environmentId}
        from generate_series(${from}::int, ${from + n - 1}::int) i returning id, email),
      du as (
        insert into directory_users (directory_id, user_id, user_name, external_id, active, resource)
        select ${directoryId}, id, email, 'ext-' || email, true, jsonb_build_object('userName', email, 'displayName', 'Ceiling') from u returning user_id, user_name),
      a as (
        insert into environment_access (user_id, environment_id, source, directory_id) select user_id, ${environmentId}, 'scim', ${directoryId} from du returning user_id)
      insert into audit_events (actor_type, actor_id, actor_label, action, target_type, target_id, target_label, environment_id, environment_key, after)
      select 'directory', ${directoryId}, 'bench', x.action, 'user', a.user_id::text, 'ceiling', ${environmentId}, 'test', '{"directory":"bench"}'::jsonb
      from a cross join (values ('user.create'), ('environment.grant')) as x(action)`,
    tx`insert into group_members (group_id, user_id, environment_id, source)
      select g.id, du.user_id, g.environment_id, 'system' from groups g, directory_users du
      where g.source = 'system' and g.environment_id = ${environmentId} and du.directory_id = ${directoryId}
        and lower(du.user_name) in (select ${prefix} || i || '@bench.example' from generate_series(${from}::int, ${from + n - 1}::int) i)`,
  ]);
}
