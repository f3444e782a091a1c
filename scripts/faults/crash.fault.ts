import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { eventually, faultWorld, type FaultWorld, type Instance } from "./harness";
import { addMember, ensureUser, groupBody, scim, withRetries, type ScimTarget } from "./scim-client";

// kill -9 in the middle of a SCIM burst and of a CSV import. After the restart and the client's
// retries the state is exactly what the client sent: no half-created user, no lost membership; the
// import resumes from its last committed chunk and reports each row exactly once.

let world: FaultWorld;
let app: Instance;
beforeAll(async () => {
  world = await faultWorld("crash");
  app = await world.start();
}, 600_000);
afterAll(async () => world?.close(), 60_000);

const systemCtx = async () => (await import("@/test-support/fixtures")).systemCtx;
const db = async () => (await import("@/db/client")).getDb();

describe("kill -9 during writes", () => {
  it("a SCIM burst: after the crash, restart and retries, every user exists once, whole, in its group", async () => {
    const { createDirectory } = await import("@/lib/directories");
    const { findEnvironmentByKey } = await import("@/lib/environments");
    const prod = (await findEnvironmentByKey("prod"))!;
    const { directory, token } = await createDirectory(await systemCtx(), { environmentId: prod.id, name: "Crash burst" });
    const target: ScimTarget = { base: () => app.base, directoryId: directory.id, token };
    const group = await scim(target, "POST", "/Groups", groupBody("Burst team"));
    expect(group.status).toBe(201);
    const groupId = group.body!.id as string;

    const N = 240;
    const names = Array.from({ length: N }, (_, i) => `burst.${i}@crash.example`);
    const done = new Set<string>();
    let acknowledged = 0;
    let killed: Promise<void> | null = null;
    // 8 clients; when 60 users are acknowledged, the app is killed mid-burst.
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name; name = queue.shift()) {
        try {
          const id = await ensureUser(target, name);
          const patched = await scim(target, "PATCH", `/Groups/${groupId}`, addMember(id));
          if (patched.status === 200 || patched.status === 204) done.add(name);
          if (++acknowledged === 60) killed = app.app.kill();
        } catch {
          // connection refused or reset: the client will retry this one
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await killed;
    expect(done.size).toBeGreaterThanOrEqual(60);
    expect(done.size).toBeLessThan(N); // the crash did cut the burst

    app = await world.start({ port: app.port });
    for (const name of names.filter((n) => !done.has(n))) {
      await withRetries(async () => {
        const id = await ensureUser(target, name);
        const patched = await scim(target, "PATCH", `/Groups/${groupId}`, addMember(id));
        if (patched.status !== 200 && patched.status !== 204) throw new Error(`patch ${patched.status}`);
      });
    }

    const d = await db();
    const [check] = await d.execute<{ users: number; distinct_names: number; with_access: number; in_everyone: number; in_group: number }>(sql`
      select count(*)::int as users,
        count(distinct du.user_name)::int as distinct_names,
        count(*) filter (where exists (select 1 from environment_access a where a.user_id = du.user_id and a.environment_id = ${prod.id}))::int as with_access,
        count(*) filter (where exists (select 1 from group_members m join groups g on g.id = m.group_id where m.user_id = du.user_id and g.source = 'system' and g.environment_id = ${prod.id}))::int as in_everyone,
        count(*) filter (where exists (select 1 from group_members m where m.user_id = du.user_id and m.group_id = ${groupId}))::int as in_group
      from directory_users du where du.directory_id = ${directory.id}`);
    expect(check).toEqual({ users: N, distinct_names: N, with_access: N, in_everyone: N, in_group: N });
  }, 300_000);

  it("a CSV import: killed while applying, it resumes after the restart and reports every row exactly once", async () => {
    const { saveUpload, startImport } = await import("@/lib/import/csv-import");
    const { findEnvironmentByKey } = await import("@/lib/environments");
    const { getJob } = await import("@/lib/jobs");
    const test = (await findEnvironmentByKey("test"))!;
    const rows = 20_000;
    const csv = ["email,name,environments", ...Array.from({ length: rows }, (_, i) => `import.${i}@crash.example,Import Person ${i},test`)].join("\n");
    const upload = await saveUpload(new Blob([csv]).stream(), "crash.csv", "faults");
    const ctx = await systemCtx();
    const mapping = { email: "email", name: "name", environments: "environments" };
    const dry = await startImport(ctx, { uploadId: upload.id, environmentId: test.id, mapping });
    await eventually(async () => ((await getJob(dry.id)).status === "succeeded" ? true : undefined), 240_000, "the dry run");
    const job = await startImport(ctx, { uploadId: upload.id, environmentId: test.id, mapping, apply: true });

    // Kill the app once some, not all, of the file is applied.
    await eventually(async () => {
      const j = await getJob(job.id);
      return j.status === "running" && j.progress > 0 ? true : undefined;
    }, 240_000, "the import to be under way");
    await app.app.kill();
    const atCrash = await getJob(job.id);
    expect(atCrash.status).toBe("running");
    expect(atCrash.progress).toBeLessThan(atCrash.total!);

    app = await world.start({ port: app.port });
    const finished = await eventually(async () => {
      const j = await getJob(job.id);
      return j.status === "succeeded" || j.status === "failed" ? j : undefined;
    }, 300_000, "the import to finish after the restart");
    expect(finished.status).toBe("succeeded");
    expect(finished.attempts).toBeGreaterThanOrEqual(2); // it was claimed again after the crash

    const d = await db();
    const [items] = await d.execute<{ n: number; seqs: number; keys: number }>(sql`select count(*)::int as n, count(distinct seq)::int as seqs, count(distinct key)::int as keys from job_items where job_id = ${job.id}`);
    expect(items).toEqual({ n: rows, seqs: rows, keys: rows });
    const [people] = await d.execute<{ n: number; with_access: number }>(sql`
      select count(*)::int as n, count(*) filter (where exists (select 1 from environment_access a where a.user_id = u.id and a.environment_id = ${test.id}))::int as with_access
      from users u where u.email like 'import.%@crash.example'`);
    expect(people).toEqual({ n: rows, with_access: rows });
  }, 600_000);
});
