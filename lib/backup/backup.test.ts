import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { getSql } from "@/db/client";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { databaseUrl } from "@/test-support/urls";
import { sealAuditTrail, verifyAuditTrail } from "@/lib/audit/chain";
import { addMembers, createGroup } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { backupDatabase, RestoreError, restoreDatabase } from "./index";

const serverUrl = inject("serverUrl");
const template = inject("templateDatabase");
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const created: string[] = [];
const clients: postgres.Sql[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-backup-"));

/** A fresh database migrated like this one (cloned from the migrated template), empty. */
async function freshDatabase(options: { log?: string[] } = {}): Promise<postgres.Sql> {
  const name = `iam_restore_${crypto.randomBytes(4).toString("hex")}`;
  await admin.unsafe(`create database "${name}" template "${template}"`);
  created.push(name);
  const log = options.log;
  const client = postgres(databaseUrl(serverUrl, name), { max: 2, onnotice: () => {}, ...(log ? { debug: (_c: number, query: string) => void log.push(query) } : {}) });
  clients.push(client);
  return client;
}

afterAll(async () => {
  for (const c of clients) await c.end({ timeout: 5 });
  for (const name of created) await admin.unsafe(`drop database if exists "${name}" with (force)`);
  await admin.end({ timeout: 5 });
  fs.rmSync(dir, { recursive: true, force: true });
});

/** Every table's rows, fingerprinted (order-independent). */
async function fingerprint(pg: postgres.Sql, tables: string[]) {
  const out: Record<string, string> = {};
  for (const t of tables) out[t] = (await pg.unsafe(`select count(*) || ':' || coalesce(md5(string_agg(x::text, '|' order by x::text)), '') as f from "${t}" x`))[0]!.f as string;
  return out;
}

describe("backup and restore", () => {
  it("restores into a fresh database the same users, groups, memberships and audit chain, which still verifies", async () => {
    const env = await createEnvironments();
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Restored group" });
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await createUser(systemCtx, { name: `Kept ${i}`, email: `kept${i}@example.com`, environmentIds: [env.prod.id] }));
    await addMembers(systemCtx, { groupId: group.id, userIds: users.map((u) => u.id) });
    await sealAuditTrail();
    const file = path.join(dir, "backup.gz");
    const header = await backupDatabase(getSql(), file);
    expect(header.tables.find((t) => t.name === "users")?.rows).toBe(5);

    const target = await freshDatabase();
    // As if migrated on a server whose default time zone is another: the chain's own zone comes back.
    await target`update audit_chain_settings set time_zone = 'America/Denver'`;
    await restoreDatabase(target, file);
    expect(await target`select time_zone from audit_chain_settings`).toEqual(await getSql()`select time_zone from audit_chain_settings`);
    const tables = header.tables.map((t) => t.name);
    expect(await fingerprint(target, tables)).toEqual(await fingerprint(getSql(), tables));
    expect(await verifyAuditTrail(target)).toMatchObject({ ok: true, broken: null });
    // New rows continue after the restored ids (identity sequences moved).
    const [next] = await target`insert into audit_events (actor_type, actor_label, action, target_type) values ('system', 'test', 'after.restore', 'test') returning id`;
    const [max] = await getSql()`select max(id)::int as id from audit_events`;
    expect(Number(next!.id)).toBeGreaterThan(max!.id);
  });

  it("refuses a non-empty database without --replace, a different migration, and a file that is not a backup", async () => {
    const file = path.join(dir, "second.gz");
    await backupDatabase(getSql(), file);
    const target = await freshDatabase();
    await restoreDatabase(target, file);
    await expect(restoreDatabase(target, file)).rejects.toThrow("This database already holds data: restore into an empty one, or pass --replace to empty it first.");
    await restoreDatabase(target, file, { replace: true });
    const [users] = await target`select count(*)::int as n from users`;
    const [ours] = await getSql()`select count(*)::int as n from users`;
    expect(users!.n).toBe(ours!.n);
    const other = await freshDatabase();
    await other`insert into drizzle.__drizzle_migrations (hash, created_at) values ('future', 0)`;
    await expect(restoreDatabase(other, file)).rejects.toThrow(/^The backup was taken at migration \d+; this database is at \d+\./);
    const junk = path.join(dir, "junk.gz");
    fs.writeFileSync(junk, (await import("node:zlib")).gzipSync("hello\n"));
    await expect(restoreDatabase(await freshDatabase(), junk)).rejects.toThrow("This is not a backup of this console (no header).");
  });
});

describe("a crafted backup", () => {
  /** A copy of a real backup with its lines rewritten: the names an attacker controls in a file. */
  function craft(source: string, name: string, edit: (lines: string[]) => string[]): string {
    const lines = gunzipSync(fs.readFileSync(source)).toString("utf8").replace(/\n$/, "").split("\n");
    const file = path.join(dir, name);
    fs.writeFileSync(file, gzipSync(`${edit(lines).join("\n")}\n`));
    return file;
  }
  const tableLine = (lines: string[], table: string) => lines.findIndex((l) => l.startsWith(`\\table ${table}\t`));
  const WRITES = /^\s*(insert|update|delete|truncate|set|begin|select pg_notify|select setval|copy|create|drop|alter)\b/i;

  it("is refused, before any statement runs, when a table or column name is not the schema's, naming it; nothing is written", async () => {
    await createUser(systemCtx, { name: "Before", email: `before-${crypto.randomUUID().slice(0, 6)}@example.com` });
    const good = path.join(dir, "good.gz");
    await backupDatabase(getSql(), good);
    const log: string[] = [];
    const target = await freshDatabase({ log });
    await restoreDatabase(target, good);
    const tables = ["users", "groups", "audit_events", "console_members"];
    const before = await fingerprint(target, tables);
    const largeObjects = async () => (await target`select count(*)::int as n from pg_largeobject_metadata`)[0]!.n as number;
    expect(await largeObjects()).toBe(0);

    const header = (lines: string[]) => JSON.parse(lines[0]!) as { tables: { name: string; rows: number }[] };
    const usersColumns = (lines: string[]) => JSON.parse(lines[tableLine(lines, "users")]!.split("\t")[1]!) as string[];
    const lastUsersColumn = usersColumns(gunzipSync(fs.readFileSync(good)).toString("utf8").split("\n")).at(-1)!;
    const cases: [string, string, (lines: string[]) => string[]][] = [
      [
        // Against the old code this column closed the column list and ran its own INSERT … RETURNING
        // lo_from_bytea(…): SQL of the file's choosing, as the database owner.
        "a column with a quote",
        `The backup names a column that table users does not have: ${JSON.stringify(`${lastUsersColumn}") overriding system value select "id", `).slice(0, -1)}`,
        (lines) => {
          const at = tableLine(lines, "users");
          const columns = usersColumns(lines);
          const list = columns.map((c) => `"${c}"`).join(", ");
          const evil = `${columns.at(-1)}") overriding system value select ${list} from json_populate_recordset(null::"users", $1::text::json) returning lo_from_bytea(0, 'pwned') --`;
          return lines.map((l, i) => (i === at ? `\\table users\t${JSON.stringify([...columns.slice(0, -1), evil])}` : l));
        },
      ],
      [
        "a table in a section line",
        'The backup names a table that is not a table of this console (or not in its header): "users\\"; DROP TABLE groups; --". Nothing was restored.',
        (lines) => [...lines, '\\table users"; DROP TABLE groups; --\t["id"]', "\\."],
      ],
      [
        "a table in the header",
        'The backup names a table that is not a table of this console: "users; DROP TABLE x". Nothing was restored.',
        (lines) => {
          const h = header(lines);
          h.tables.push({ name: "users; DROP TABLE x", rows: 0 });
          return [JSON.stringify(h), ...lines.slice(1)];
        },
      ],
      ["a column that does not exist", 'The backup names a column that table users does not have: "password". Nothing was restored.', (lines) => lines.map((l, i) => (i === tableLine(lines, "users") ? `\\table users\t${JSON.stringify([...usersColumns(lines), "password"])}` : l))],
      ["a column list that is not a list", "The backup's column list of table users is not a list of names. Nothing was restored.", (lines) => lines.map((l, i) => (i === tableLine(lines, "users") ? "\\table users\t{\"id\":1}" : l))],
    ];
    for (const [what, message, edit] of cases) {
      const file = craft(good, `crafted-${what.replaceAll(" ", "-")}.gz`, edit);
      log.length = 0;
      const error = await restoreDatabase(target, file, { replace: true }).catch((e: unknown) => e);
      const said = error instanceof Error ? error.message.slice(0, message.length) : `(not refused; ${await largeObjects()} large objects now)`;
      expect([what, error instanceof RestoreError, said]).toEqual([what, true, message]);
      // Reads only: no transaction, no truncate, no insert.
      expect([what, log.filter((q) => WRITES.test(q))]).toEqual([what, []]);
    }
    expect(await fingerprint(target, tables)).toEqual(before);
    expect(await largeObjects()).toBe(0);
    // The genuine file still restores over it.
    await restoreDatabase(target, good, { replace: true });
    expect(await fingerprint(target, tables)).toEqual(before);
  });
});
