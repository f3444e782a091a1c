import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb, getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import type { DomainContext } from "@/lib/auth/actor";
import { createGroup, deleteGroup } from "@/lib/groups";
import { getJob } from "@/lib/jobs";
import { runPendingJobs } from "@/lib/jobs/worker";
import { createUser } from "@/lib/users";
import { importItems, inspectUpload, saveUpload, startImport } from "./csv-import";

let env: { dev: Environment; test: Environment; prod: Environment };
// Jobs re-check their actor before each batch, so the admin who starts one must exist.
let admin: DomainContext;
beforeAll(async () => {
  env = await createEnvironments();
  admin = await realMemberCtx("admin");
  await createGroup(systemCtx, { environmentId: env.dev.id, name: "Engineering" });
  await createGroup(systemCtx, { environmentId: env.prod.id, name: "Support" });
  await createUser(systemCtx, { name: "Existing Person", email: "existing@example.com", environmentIds: [env.dev.id] });
});

function stream(content: string | Uint8Array): ReadableStream<Uint8Array> {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  return new ReadableStream({
    start(controller) {
      // Split across chunks, including inside multi-byte characters (small pieces for small files).
      const size = bytes.length < 10_000 ? 7 : 65_536;
      for (let i = 0; i < bytes.length; i += size) controller.enqueue(bytes.slice(i, i + size));
      controller.close();
    },
  });
}

async function runImport(csv: string | Uint8Array, apply: boolean, ctx = admin) {
  const upload = await saveUpload(stream(csv), "users.csv", "test");
  const { mapping } = await inspectUpload(upload.id);
  const job = await startImport(ctx, { uploadId: upload.id, environmentId: env.dev.id, mapping, apply });
  await runPendingJobs();
  return { job: await getJob(job.id), items: await importItems(job.id) };
}

const FILE = [
  "email,name,environments,groups_dev,groups_prod,favourite colour",
  "new.one@example.com,New One,dev;prod,Engineering,Support,blue",
  "EXISTING@example.com,Existing Renamed,dev,Engineering,,green",
  "bad-email,Bad,dev,,,red",
  "new.two@example.com,New Two,staging,,,",
  "new.three@example.com,,dev,,,",
  "new.one@example.com,New One Again,dev,,,",
  "new.four@example.com,Für Straße,dev,,Support,",
  "short,row",
].join("\n");

describe("CSV import", () => {
  it("maps known columns and names the unknown ones", async () => {
    const upload = await saveUpload(stream(FILE), "users.csv", "test");
    const inspected = await inspectUpload(upload.id);
    expect(inspected.mapping).toEqual({ email: "email", name: "name", environments: "environments", groups: { dev: "groups_dev", prod: "groups_prod" } });
    expect(inspected.unknown).toEqual(["favourite colour"]);
  });

  it("dry run reports every row with its outcome and reason, and writes nothing", async () => {
    const before = { users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") };
    const { job, items } = await runImport(FILE, false);
    expect(job.status).toBe("succeeded");
    expect(items.map((i) => [i.seq, i.outcome, i.detail])).toEqual([
      [1, "create", "new user, environments +2, groups +2"],
      [2, "update", "name “Existing Person” → “Existing Renamed”, groups +1"],
      [3, "error", "enter a valid email address"],
      [4, "error", "unknown environment “staging”"],
      [5, "error", "a new user needs a name"],
      [6, "error", "duplicate of row 1"],
      [7, "error", "group prod/Support is in an environment the user will not have"],
      [8, "error", "expected 6 columns, found 2; enter a valid email address"],
    ]);
    expect(job.summary).toMatchObject({ rows: 8, create: 1, update: 1, unchanged: 0, error: 6 });
    expect({ users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("apply imports the good rows (with audit rows) and leaves the bad ones; a second import changes nothing", async () => {
    const { job } = await runImport(FILE, true);
    expect(job.summary).toMatchObject({ create: 1, update: 1, error: 6 });
    const [one] = await getDb().execute<{ source: string; envs: string[]; groups: string[] }>(sql`
      select u.source,
        array(select e.key from environment_access a join environments e on e.id = a.environment_id where a.user_id = u.id order by e.position) as envs,
        array(select g.name from group_members gm join groups g on g.id = gm.group_id where gm.user_id = u.id order by g.name) as groups
      from users u where email = 'new.one@example.com'`);
    expect(one).toEqual({ source: "import", envs: ["dev", "prod"], groups: ["Engineering", "Everyone", "Everyone", "Support"] });
    const [renamed] = await getDb().execute<{ name: string }>(sql`select name from users where lower(email) = 'existing@example.com'`);
    expect(renamed!.name).toBe("Existing Renamed");
    const audits = await getDb().execute<{ action: string; environment_key: string | null }>(sql`select action, environment_key from audit_events where action like 'user%import%' or action = 'users.import' order by id`);
    // A new user of DEV and PROD, and a rename, are account-wide events.
    expect(audits.map((a) => [a.action, a.environment_key])).toEqual([["user.import.create", null], ["user.import.update", null], ["users.import", "dev"]]);

    const counts = { users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") };
    const again = await runImport(FILE, true);
    expect(again.job.summary).toMatchObject({ create: 0, update: 0, unchanged: 2, error: 6 });
    expect({ users: await countRows("users"), members: await countRows("group_members"), audit: await countRows("audit_events") }).toEqual({
      ...counts,
      audit: counts.audit + 1, // only the import's own summary row
    });
  });

  it("holds an environment admin to their scope as createUser does: a new user needs one of their environments, none is account-wide", async () => {
    const devAdmin = await realMemberCtx("environment_admin", [env.dev.id]);
    const before = await countRows("users");
    const csv = ["email,name,environments", "scoped.new@example.com,Scoped New,dev", "nowhere@example.com,No Where,", "prod.only@example.com,Prod Only,prod"].join("\n");
    const { job, items } = await runImport(csv, true, devAdmin);
    expect(items.map((i) => [i.seq, i.outcome, i.detail])).toEqual([
      [1, "create", "new user, environments +1"],
      [2, "error", "a new user with no environment is account-wide: it needs an owner or admin"],
      [3, "error", "environment “prod” is outside your scope"],
    ]);
    expect(job.summary).toMatchObject({ create: 1, error: 2 });
    expect(await countRows("users")).toBe(before + 1);
    const [nowhere] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from users where email in ('nowhere@example.com', 'prod.only@example.com')`);
    expect(nowhere!.n).toBe(0);
  });

  it("files a row that changes one environment only under that environment, as the console's and SCIM's creations", async () => {
    // new.one (DEV and PROD, from the test above) gains nothing new but a PROD group: PROD's event.
    await createGroup(systemCtx, { environmentId: env.prod.id, name: "Import PROD only" });
    const csv = ["email,name,environments,groups_prod", "one.env@example.com,One Env,dev,", "new.one@example.com,,,Import PROD only", "two.env@example.com,Two Env,dev;prod,"].join("\n");
    await runImport(csv, true);
    const rows = await getDb().execute<{ action: string; target_label: string; environment_key: string | null }>(sql`
      select action, target_label, environment_key from audit_events where action like 'user.import.%' and target_label in ('one.env@example.com', 'new.one@example.com', 'two.env@example.com') order by id desc limit 3`);
    expect(rows.map((r) => [r.action, r.target_label, r.environment_key]).reverse()).toEqual([
      ["user.import.create", "one.env@example.com", "dev"],
      ["user.import.update", "new.one@example.com", "prod"],
      ["user.import.create", "two.env@example.com", null],
    ]);
  });

  it("a group of the file deleted while the job runs fails its rows with the reason, not the whole job (it failed with a raw SQL error)", async () => {
    const doomed = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Doomed" });
    const csv = ["email,name,environments,groups_dev", "d1@example.com,D One,dev,", "d2@example.com,D Two,dev,Doomed", "d3@example.com,D Three,dev,"].join("\n");
    const upload = await saveUpload(stream(csv), "doomed.csv", "test");
    const { mapping } = await inspectUpload(upload.id);
    const job = await startImport(admin, { uploadId: upload.id, environmentId: env.dev.id, mapping, apply: true });
    // The job reads its catalog of groups, then waits on the file's chunks (held) while the group goes.
    const holder = await getSql().reserve();
    try {
      await holder`begin`;
      await holder`lock table upload_chunks in access exclusive mode`;
      const running = runPendingJobs();
      await expect.poll(async () => (await getSql()`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)[0]!.n).toBe(1);
      await deleteGroup(systemCtx, doomed.id);
      await holder`commit`;
      await running;
    } finally {
      holder.release();
    }
    const done = await getJob(job.id);
    expect(done).toMatchObject({ status: "succeeded" });
    const items = await importItems(job.id);
    expect(items.map((i) => [i.key, i.outcome])).toEqual([
      ["d1@example.com", "create"],
      ["d2@example.com", "error"],
      ["d3@example.com", "create"],
    ]);
    expect(items[1]!.detail).toMatch(/Doomed/);
  });

  it("reports a file that is not UTF-8 and applies nothing", async () => {
    // Early in the file: refused when the import is started.
    const latin1 = new Uint8Array([...new TextEncoder().encode("email,name\nx@example.com,Jos"), 0xe9, 0x0a]);
    const upload = await saveUpload(stream(latin1), "latin1.csv", "test");
    await expect(startImport(memberCtx("admin"), { uploadId: upload.id, environmentId: env.dev.id, mapping: { email: "email", name: "name" } })).rejects.toThrowError(
      "The file is not UTF-8 text (an invalid byte after byte 0).",
    );
    // Past the first megabyte: the dry run stops with the reason.
    const good = "email,name\n" + Array.from({ length: 40_000 }, (_, i) => `late${i}@example.com,Late ${i}`).join("\n") + "\n";
    const late = new Uint8Array([...new TextEncoder().encode(good), ...new TextEncoder().encode("late@example.com,Jos"), 0xe9, 0x0a]);
    const lateUpload = await saveUpload(stream(late), "late.csv", "test");
    const usersBefore = await countRows("users");
    const job = await startImport(admin, { uploadId: lateUpload.id, environmentId: env.dev.id, mapping: { email: "email", name: "name" } });
    await runPendingJobs();
    const done = await getJob(job.id);
    expect(done.status).toBe("failed");
    expect(done.error).toBe("The file is not UTF-8 text (an invalid byte after byte 1,048,576). Save it as “CSV UTF-8” and upload it again.");
    expect(await countRows("users")).toBe(usersBefore);
    await expect(startImport(memberCtx("admin"), { uploadId: lateUpload.id, environmentId: env.dev.id, mapping: { email: "mail" } })).rejects.toThrowError("The file has no column “mail”.");
    await expect(startImport(memberCtx("reviewer"), { uploadId: upload.id, environmentId: env.dev.id, mapping: { email: "email" } })).rejects.toThrowError("A reviewer cannot change users.");
  });

  it("resumes after a crash from the last committed batch: every row applied exactly once", async () => {
    const rows = Array.from({ length: 1200 }, (_, i) => `bulk${i}@example.com,Bulk ${i},test`);
    const csv = ["email,name,environments", ...rows].join("\n");
    const db = getDb();
    // The second batch fails half-way (as if the process died there).
    await db.execute(sql.raw(`create function fail_once() returns trigger language plpgsql as $$ begin
      if NEW.email = 'bulk700@example.com' then raise exception 'simulated crash'; end if; return NEW; end $$`));
    await db.execute(sql.raw(`create trigger fail_once before insert on users for each row execute function fail_once()`));
    const first = await runImport(csv, true);
    await db.execute(sql.raw(`drop trigger fail_once on users`));
    expect(first.job.status).toBe("failed");
    expect(first.job.progress).toBe(500);
    expect(await countRows("users")).toBeGreaterThan(0);
    const [{ n: afterCrash } = { n: 0 }] = await db.execute<{ n: number }>(sql`select count(*)::int as n from users where email like 'bulk%'`);
    expect(afterCrash).toBe(500);
    // The instance that ran it is gone: its job looks stale and another worker takes it over.
    await db.execute(sql`update jobs set status = 'running', heartbeat_at = now() - interval '5 minutes' where id = ${first.job.id}`);
    await runPendingJobs();
    const resumed = await getJob(first.job.id);
    expect(resumed.status).toBe("succeeded");
    expect(resumed.summary).toMatchObject({ rows: 1200, create: 1200, error: 0 });
    const [{ n } = { n: 0 }] = await db.execute<{ n: number }>(sql`select count(*)::int as n from users where email like 'bulk%'`);
    expect(n).toBe(1200);
    expect((await importItems(first.job.id, { limit: 5000 })).length).toBe(1200);
  });
});
