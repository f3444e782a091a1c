// "GET never changes state", checked from the database: a row trigger on every table logs each
// real write into `write_log`. Used by lib/get-is-safe.test.ts (route handlers) and
// e2e/pages-read-only.spec.ts (pages). `exec` runs one SQL statement and returns its rows.
// Bookkeeping of the request itself is not state and is not logged: rate-limit counters, the SCIM
// request log, last-seen / last-used / last-request / heartbeat stamps, and the audit sealer filling the chain
// columns; audit events that record a refused request are left out when reading.

type Exec = (statement: string) => Promise<readonly Record<string, unknown>[]>;

const SKIPPED_TABLES = ["rate_limits", "scim_request_log", "write_log"];
const BOOKKEEPING_COLUMNS = "'{last_seen_at,last_used_at,last_request_at,updated_at,heartbeat_at}'::text[]";
const CHAIN_COLUMNS = "'{seq,prev_hash,hash}'::text[]";

export async function installWriteLog(exec: Exec): Promise<void> {
  await exec(`create table write_log (id bigserial primary key, entry text not null)`);
  await exec(`create function log_write() returns trigger language plpgsql as $$
    begin
      if tg_op = 'UPDATE' and (to_jsonb(new) - ${BOOKKEEPING_COLUMNS}) = (to_jsonb(old) - ${BOOKKEEPING_COLUMNS}) then return null; end if;
      if tg_op = 'UPDATE' and tg_table_name = 'audit_events' and (to_jsonb(new) - ${CHAIN_COLUMNS}) = (to_jsonb(old) - ${CHAIN_COLUMNS}) then return null; end if;
      insert into write_log (entry) values (tg_table_name || ' ' || tg_op
        || case when tg_table_name = 'audit_events' and tg_op = 'INSERT' then ' ' || (to_jsonb(new) ->> 'action') || ' ' || (to_jsonb(new) ->> 'outcome') else '' end);
      return null;
    end $$`);
  const tables = await exec(
    `select table_schema as schema, table_name as name from information_schema.tables
     where table_type = 'BASE TABLE' and table_schema not in ('pg_catalog', 'information_schema')
       and table_name not in (${SKIPPED_TABLES.map((t) => `'${t}'`).join(", ")})`,
  );
  for (const t of tables) await exec(`create trigger zz_log_write after insert or update or delete on "${t.schema}"."${t.name}" for each row execute function log_write()`);
}

/** The writes logged since the last clear (an audited refusal is not a change). */
export async function readWriteLog(exec: Exec): Promise<string[]> {
  const rows = await exec(`select entry from write_log order by id`);
  return rows.map((r) => String(r.entry)).filter((e) => !/^audit_events INSERT \S+ denied$/.test(e));
}

export async function clearWriteLog(exec: Exec): Promise<void> {
  await exec(`delete from write_log`);
}
