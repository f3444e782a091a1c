import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, inject, it } from "vitest";
import { getSql } from "@/db/client";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { databaseUrl } from "@/test-support/urls";
import { sealAuditTrail, verifyAuditTrail } from "@/lib/audit/chain";
import { addMembers, createGroup } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { backupDatabase, restoreDatabase } from "./index";

const serverUrl = inject("serverUrl");
const template = inject("templateDatabase");
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
const created: string[] = [];
const clients: postgres.Sql[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-backup-"));

/** A fresh database migrated like this one (cloned from the migrated template), empty. */
async function freshDatabase(): Promise<postgres.Sql> {
  const name = `iam_restore_${crypto.randomBytes(4).toString("hex")}`;
  await admin.unsafe(`create database "${name}" template "${template}"`);
  created.push(name);
  const client = postgres(databaseUrl(serverUrl, name), { max: 2, onnotice: () => {} });
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
    await restoreDatabase(target, file);
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
