import { beforeAll, describe, expect, it, vi } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb, getSql } from "@/db/client";
import { directories, scimRequestLog, type Environment } from "@/db/schema";
import { createEnvironments } from "@/test-support/fixtures";
import { directoryHealth, pruneRequestLogs, requestLog } from "@/lib/directories";
import { rereadEnv } from "@/env";
import { flushRequestLog } from "./handler";
import { expectFlushWaitsForEarlierWrite } from "@/test-support/table-lock";
import { scimClient } from "./testing";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

// The log is written in batches: a flush returns once everything logged before it is written.
async function logFor(directoryId: string, count: number) {
  await flushRequestLog();
  const rows = await getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, directoryId));
  expect(rows).toHaveLength(count);
  return rows;
}

describe("directory request log, health and limits", () => {
  it("logs method, path, status, duration and the change (secrets redacted); health counts errors", async () => {
    const scim = await scimClient(env.dev);
    const created = await scim.call("POST", "/Users", { userName: "logged@corp.example", password: "hunter2-hunter2" });
    await scim.call("GET", "/Users?filter=nope%20eq%20%22x%22");
    await scim.call("PUT", `/Users/${created.body.id}`, { userName: "logged@corp.example", password: "another secret" });
    const rows = await logFor(scim.directory.id, 3);
    const { entries } = await requestLog(env.dev.id, scim.directory.id);
    expect(entries.map((e) => [e.method, e.path, e.status])).toEqual(
      expect.arrayContaining([
        ["POST", "/Users", 201],
        ["GET", "/Users", 400],
        ["PUT", `/Users/${created.body.id}`, 200],
      ]),
    );
    expect(rows.every((r) => r.durationMs >= 0)).toBe(true);
    // A refused request keeps its reason, for the request log to show instead of a dash.
    const refused = entries.find((e) => e.status === 400)!;
    expect(refused.change).toEqual({ error: expect.stringMatching(/nope/), scimType: "invalidFilter" });
    const put = entries.find((e) => e.method === "PUT")!;
    expect(JSON.stringify(put.change)).not.toContain("another secret");
    expect(put.change).toMatchObject({ body: { password: "[redacted]" } });
    const health = (await directoryHealth(env.dev.id)).get(scim.directory.id)!;
    expect(health).toMatchObject({ users: 1, errors24h: 1, lastError: "GET /Users → 400" });
  });

  it("redacts a password a PATCH sets by path (password, the full URN, or in a value object); other values stay", async () => {
    const scim = await scimClient(env.dev);
    const created = await scim.call("POST", "/Users", { userName: "patched.secret@corp.example" });
    const patched = await scim.call("PATCH", `/Users/${created.body.id}`, {
      Operations: [
        { op: "replace", path: "password", value: "Tr0ub4dor&3-PATCHED" },
        { op: "replace", path: "urn:ietf:params:scim:schemas:core:2.0:User:password", value: "Tr0ub4dor&3-URN" },
        { op: "replace", value: { password: "Tr0ub4dor&3-OBJECT", title: "Lead" } },
        { op: "add", path: 'emails[value eq "pass@corp.example"].type', value: "work" },
      ],
    });
    expect(patched.status).toBe(200);
    const rows = await logFor(scim.directory.id, 2);
    const patch = rows.find((r) => r.method === "PATCH")!;
    expect(JSON.stringify(patch.change)).not.toMatch(/Tr0ub4dor/);
    expect(patch.change).toEqual({
      patched: created.body.id,
      operations: [
        { op: "replace", path: "password", value: "[redacted]" },
        { op: "replace", path: "urn:ietf:params:scim:schemas:core:2.0:User:password", value: "[redacted]" },
        { op: "replace", value: { password: "[redacted]", title: "Lead" } },
        { op: "add", path: 'emails[value eq "pass@corp.example"].type', value: "work" },
      ],
    });
  });

  it("one entry the database refuses does not take the others with it: a NUL a client sent is stored as U+FFFD, and an entry whose directory is gone is the only one dropped", async () => {
    const a = await scimClient(env.dev);
    const b = await scimClient(env.test);
    const gone = await scimClient(env.prod);
    // In process (the lean server refuses NUL in a URL before any door sees it).
    const nul = await a.call("GET", "/Users/%00");
    expect(nul.status).toBe(404);
    await b.call("GET", "/Groups");
    await gone.call("GET", "/Users");
    await getDb().delete(directories).where(eq(directories.id, gone.directory.id));
    const [entry] = await logFor(a.directory.id, 1);
    expect(entry!.change).toEqual({ error: "No user \uFFFD in this directory." });
    expect((await logFor(b.directory.id, 1))[0]!.path).toBe("/Groups");
  });

  it("a flush that meets a directory being deleted waits for the deletion and leaves out only that directory's entries", async () => {
    const kept = await scimClient(env.dev);
    const gone = await scimClient(env.test);
    await flushRequestLog();
    // The deletion is made and held open; the requests still read the directory (MVCC) and are logged.
    let commitDeletion!: () => void;
    const held = new Promise<void>((resolve) => (commitDeletion = resolve));
    let deleted!: () => void;
    const made = new Promise<void>((resolve) => (deleted = resolve));
    const deletion = getSql().begin(async (tx) => {
      await tx`delete from directories where id = ${gone.directory.id}`;
      deleted();
      await held;
    });
    await made;
    expect((await kept.call("GET", "/Groups")).status).toBe(200);
    expect((await gone.call("GET", "/Users")).status).toBe(200);
    const flushed = flushRequestLog();
    // The flush's statement waits on the deletion's row lock before the deletion commits.
    await vi.waitFor(async () => {
      const [waiting] = await getSql()`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%scim_request_log%'`;
      expect(waiting!.n).toBeGreaterThan(0);
    });
    commitDeletion();
    await deletion;
    await flushed;
    expect((await logFor(kept.directory.id, 1))[0]!.path).toBe("/Groups");
    expect(await getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, gone.directory.id))).toEqual([]);
  });

  it("logs a body nested as deep as JSON allows (5,000 levels) with a marker below 32 levels: the PUT is answered 200, not written and then 500", async () => {
    const scim = await scimClient(env.dev);
    const created = await scim.call("POST", "/Users", { userName: "deep@corp.example" });
    const depth = 5000;
    const raw = `{"userName":"deep@corp.example","displayName":"Deep","x":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`;
    const put = await scim.call("PUT", `/Users/${created.body.id}`, undefined, { raw });
    expect([put.status, put.body.displayName]).toEqual([200, "Deep"]);
    const rows = await logFor(scim.directory.id, 2);
    expect(JSON.stringify(rows.find((r) => r.method === "PUT")!.change)).toContain('"[nested too deep]"');
  });

  it("drops entries past the directory's retention", async () => {
    const scim = await scimClient(env.test);
    await scim.call("GET", "/Users");
    await logFor(scim.directory.id, 1);
    await getDb().update(scimRequestLog).set({ createdAt: sql`now() - interval '31 days'` }).where(eq(scimRequestLog.directoryId, scim.directory.id));
    expect(await pruneRequestLogs()).toBeGreaterThanOrEqual(1);
    expect(await getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, scim.directory.id))).toHaveLength(0);
  });

  it("keeps the time each request arrived, not the time its entry was written", async () => {
    const scim = await scimClient(env.prod);
    // The app's clock reads an hour ago while the request is answered; Postgres's is the real one.
    const arrived = new Date(Date.now() - 3_600_000);
    vi.useFakeTimers({ toFake: ["Date"], now: arrived });
    try {
      await scim.call("GET", "/Groups");
    } finally {
      vi.useRealTimers();
    }
    const [row] = await logFor(scim.directory.id, 1);
    expect(row!.createdAt.toISOString()).toBe(arrived.toISOString());
    const [directory] = await getDb().select({ lastRequestAt: directories.lastRequestAt }).from(directories).where(eq(directories.id, scim.directory.id));
    expect(directory!.lastRequestAt!.toISOString()).toBe(arrived.toISOString());
  });

  it("a flush waits for the entries a flush started earlier is still writing", async () => {
    const scim = await scimClient(env.test);
    await expectFlushWaitsForEarlierWrite(
      "scim_request_log",
      async () => {
        await scim.call("GET", "/Users");
        await scim.call("GET", "/Groups");
      },
      flushRequestLog,
    );
    const rows = await getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, scim.directory.id));
    expect(rows.map((r) => r.path).sort()).toEqual(["/Groups", "/Users"]);
  });

  it("limits each token's rate with 429 and Retry-After", async () => {
    const scim = await scimClient(env.prod);
    process.env.SCIM_RATE_LIMIT_PER_MINUTE = "3";
    rereadEnv();
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await scim.call("GET", "/Users"));
      expect(statuses.slice(0, 3).map((s) => s.status)).toEqual([200, 200, 200]);
      expect(statuses[3]!.status).toBe(429);
      expect(Number(statuses[3]!.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(statuses[3]!.body.detail).toMatch(/Too many requests; retry in/);
    } finally {
      delete process.env.SCIM_RATE_LIMIT_PER_MINUTE;
      rereadEnv();
    }
  });
});
