import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { createSql, getDb, getSql } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { databaseUrl } from "@/test-support/urls";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";
import { pruneAuditTrail, sealAuditTrail, verifyAuditTrail } from "./chain";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const refusal = (statement: ReturnType<typeof sql>) => getDb().execute(statement).then(() => "done", (e: Error & { cause?: Error }) => (e.cause ?? e).message);
/** Tampering as the database owner would, around the guard (which the app never does). */
async function tamper(statement: ReturnType<typeof sql>) {
  await getDb().transaction(async (tx) => {
    await tx.execute(sql`alter table audit_events disable trigger audit_events_append_only`);
    await tx.execute(statement);
    await tx.execute(sql`alter table audit_events enable trigger audit_events_append_only`);
  });
}

describe("the audit trail", () => {
  it("is append-only in the database: UPDATE, DELETE and TRUNCATE are refused, and sealing only fills the chain", async () => {
    await createUser(systemCtx, { name: "Audited", email: "audited@example.com", environmentIds: [env.dev.id] });
    await sealAuditTrail();
    const [row] = await getDb().execute<{ id: number }>(sql`select id from audit_events where action = 'user.create' limit 1`);
    expect(await refusal(sql`update audit_events set action = 'user.hidden' where id = ${row!.id}`)).toBe("audit_events is append-only: UPDATE is refused");
    expect(await refusal(sql`update audit_events set seq = seq + 1000 where id = ${row!.id}`)).toBe("audit_events is append-only: UPDATE is refused");
    expect(await refusal(sql`delete from audit_events where id = ${row!.id}`)).toBe("audit_events is append-only: DELETE is refused (retention goes through audit_prune)");
    expect(await refusal(sql`truncate audit_events`)).toBe("audit_events is append-only: TRUNCATE is refused");
    // Setting the prune flag by hand does not open unsealed rows either.
    await createUser(systemCtx, { name: "Unsealed", email: "unsealed@example.com", environmentIds: [env.dev.id] });
    const [fresh] = await getDb().execute<{ id: number }>(sql`select id from audit_events where seq is null limit 1`);
    const byHand = await getSql()
      .begin(async (pg) => {
        await pg`select set_config('iam.audit_prune', 'on', true)`;
        await pg`delete from audit_events where id = ${fresh!.id}`;
      })
      .then(() => "done", (e: Error) => e.message);
    expect(byHand).toBe("audit_events is append-only: DELETE is refused (retention goes through audit_prune)");
  });

  it("lets a seal fill only the chain's columns: a seal that also changes any other column is refused", async () => {
    await createUser(systemCtx, { name: "Sealed Once", email: "sealed-once@example.com", environmentIds: [env.dev.id] });
    const [row] = await getDb().execute<{ id: number }>(sql`select id from audit_events where seq is null and target_label = 'sealed-once@example.com' limit 1`);
    const seal = (changes: ReturnType<typeof sql>) => refusal(sql`update audit_events set seq = 999999, prev_hash = 'p', hash = 'h'${changes} where id = ${row!.id}`);
    // A column of each kind: text, jsonb (a value within it), a null made a value, a timestamp.
    expect(await seal(sql`, action = 'user.hidden'`)).toBe("audit_events is append-only: UPDATE is refused");
    expect(await seal(sql`, after = jsonb_set(after, '{name}', '"Someone else"')`)).toBe("audit_events is append-only: UPDATE is refused");
    expect(await seal(sql`, reason = 'made up'`)).toBe("audit_events is append-only: UPDATE is refused");
    expect(await seal(sql`, occurred_at = occurred_at - interval '1 day'`)).toBe("audit_events is append-only: UPDATE is refused");
    // A seal that leaves a column out is refused too (hash still null).
    expect(await refusal(sql`update audit_events set seq = 999999 where id = ${row!.id}`)).toBe("audit_events is append-only: UPDATE is refused");
    // The seal alone goes through, once.
    expect(await seal(sql``)).toBe("done");
    expect(await seal(sql``)).toBe("audit_events is append-only: UPDATE is refused");
    await tamper(sql`update audit_events set seq = null, prev_hash = null, hash = null where id = ${row!.id}`);
  });

  it("chains every row in commit order, also under concurrent writers", async () => {
    const writers = Array.from({ length: 20 }, (_, i) => createUser(systemCtx, { name: `Writer ${i}`, email: `writer${i}@example.com`, environmentIds: [env.test.id] }));
    const sealers = Array.from({ length: 5 }, () => sealAuditTrail());
    await Promise.all([...writers, ...sealers]);
    const report = await verifyAuditTrail();
    const [{ n }] = (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events`)) as unknown as [{ n: number }];
    expect(report).toMatchObject({ ok: true, broken: null, unsealed: 0, checked: n });
  });

  it("verifies the same on a server whose default time zone and date style differ (a restore elsewhere), since each row's content prints its time the same way", async () => {
    await createUser(systemCtx, { name: "Zoned", email: "zoned@example.com", environmentIds: [env.test.id] });
    await sealAuditTrail();
    const db = (await getSql()<{ db: string }[]>`select current_database() as db`)[0]!.db;
    // A database default, as a server configured elsewhere would have (postgresql.conf, or ALTER DATABASE).
    await getSql().unsafe(`alter database "${db}" set timezone to 'Pacific/Chatham'`);
    await getSql().unsafe(`alter database "${db}" set datestyle to 'SQL, DMY'`);
    const elsewhere = createSql(process.env.DATABASE_URL!, 1);
    try {
      const [settings] = await elsewhere<{ timezone: string; datestyle: string; now: string }[]>`select current_setting('timezone') as timezone, current_setting('datestyle') as datestyle, now()::text as now`;
      expect(settings).toMatchObject({ timezone: "Pacific/Chatham", datestyle: "SQL, DMY", now: expect.stringMatching(/^\d\d\/\d\d\/\d{4} .* \+1[23]45$/) });
      expect(await verifyAuditTrail(elsewhere)).toMatchObject({ ok: true, broken: null });
      // Sealed under those settings, verified under the first ones.
      await getSql()`insert into audit_events (actor_type, actor_label, action, target_type) values ('system', 'zoned', 'test.zoned', 'test')`;
      expect(await sealAuditTrail(elsewhere)).toBe(1);
      expect(await verifyAuditTrail()).toMatchObject({ ok: true, broken: null });
    } finally {
      await getSql().unsafe(`alter database "${db}" reset timezone`);
      await getSql().unsafe(`alter database "${db}" reset datestyle`);
      await elsewhere.end();
    }
  });

  it("prints times in the zone the database's chain was first sealed in (migration 0047 keeps it as data), exactly as Postgres printed them there", async () => {
    const db = `iam_zone_${process.pid}_${Date.now().toString(36)}`;
    await getSql().unsafe(`create database "${db}"`);
    await getSql().unsafe(`alter database "${db}" set timezone to 'Asia/Kathmandu'`);
    const url = databaseUrl(process.env.DATABASE_URL!, db);
    try {
      await runMigrations(url);
      const other = createSql(url, 1);
      try {
        expect(await other`select time_zone from audit_chain_settings`).toEqual([{ time_zone: "Asia/Kathmandu" }]);
        // audit_time_text(t, zone) is what t::text printed with the session in that zone, for
        // whole, half and quarter hour offsets, both signs, summer time, and any fraction.
        const zones = ["UTC", "Asia/Kathmandu", "America/St_Johns", "Pacific/Chatham", "Europe/Berlin", "America/Denver", "Australia/Lord_Howe"];
        const times = ["2026-12-06 00:00:00+00", "2026-07-01 12:34:56.5+00", "2026-03-29 01:30:00.000001+00", "1999-12-31 23:59:59.123456+00", "2026-10-25 00:59:59.99+00"];
        for (const zone of zones) {
          const rows = await other.begin(async (tx) => {
            await tx.unsafe(`set local timezone = '${zone}'`);
            return tx<{ session: string; fixed: string }[]>`select t::text as session, audit_time_text(t, ${zone}) as fixed from unnest(${times}::timestamptz[]) as t`;
          });
          for (const r of rows) expect([zone, r.fixed]).toEqual([zone, r.session]);
        }
      } finally {
        await other.end();
      }
    } finally {
      await getSql().unsafe(`drop database if exists "${db}" with (force)`);
    }
  });

  it("names the first broken link: an altered row, then a removed one", async () => {
    await sealAuditTrail();
    const [victim] = await getDb().execute<{ id: number; seq: number }>(sql`select id::int, seq::int from audit_events where action = 'user.create' order by seq limit 1 offset 3`);
    await tamper(sql`update audit_events set after = jsonb_set(after, '{name}', '"Someone else"') where id = ${victim!.id}`);
    expect((await verifyAuditTrail()).broken).toEqual({ seq: victim!.seq, id: victim!.id, problem: "its content does not match its hash (the row was altered)" });
    await tamper(sql`delete from audit_events where id = ${victim!.id}`);
    expect((await verifyAuditTrail()).broken).toEqual({ seq: victim!.seq, id: null, problem: `rows ${victim!.seq}–${victim!.seq} are missing (deleted)` });
  });
});

describe("retention", () => {
  it("is refused to admins and reviewers and below 30 days", async () => {
    expect(((await pruneAuditTrail(memberCtx("admin"), { olderThanDays: 90 }).catch((e) => e)) as Error).message).toBe("An admin cannot change audit.");
    expect(((await pruneAuditTrail(memberCtx("reviewer"), { olderThanDays: 90 }).catch((e) => e)) as Error).message).toBe("A reviewer cannot change audit.");
    const short = await pruneAuditTrail(systemCtx, { olderThanDays: 5 }).catch((e) => e);
    expect((short as { fieldErrors?: Record<string, string[]> }).fieldErrors?.olderThanDays).toEqual(["Keep at least 30 days."]);
  });

  it("is held to 30 days by the database too: audit_prune called directly with a later cutoff deletes nothing", async () => {
    await sealAuditTrail();
    const before = { events: await countRows("audit_events"), anchors: await countRows("audit_anchors") };
    for (const cutoff of [sql`now() + interval '1 day'`, sql`now() - interval '29 days'`, sql`null`]) {
      const refused = await getDb().execute(sql`select audit_prune(${cutoff})`).catch((e: { cause?: Error } & Error) => (e.cause ?? e).message);
      expect(refused).toMatch(/^audit_prune keeps at least 30 days: the cutoff .* is later than /);
    }
    expect({ events: await countRows("audit_events"), anchors: await countRows("audit_anchors") }).toEqual(before);
    // The app's own call, at the floor, passes (its cutoff is on the database's clock).
    expect(await pruneAuditTrail(systemCtx, { olderThanDays: 30 })).toEqual({ pruned: 0 });
  });
});
