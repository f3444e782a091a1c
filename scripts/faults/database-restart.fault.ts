import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { eventually, faultWorld, type FaultWorld, type Instance } from "./harness";
import { scim, userBody, type ScimTarget } from "./scim-client";

// The database restarts while clients write: they get errors, never a 2xx for a write that did not
// commit, and the app serves again once the database is back, without being restarted itself.

let world: FaultWorld;
let app: Instance;
beforeAll(async () => {
  world = await faultWorld("restart");
  app = await world.start();
}, 600_000);
afterAll(async () => world?.close(), 60_000);

describe("a database restart during writes", () => {
  it("acknowledges only what committed, errors meanwhile, and recovers by itself", async () => {
    const { createDirectory } = await import("@/lib/directories");
    const { findEnvironmentByKey } = await import("@/lib/environments");
    const { systemCtx } = await import("@/test-support/fixtures");
    const prod = (await findEnvironmentByKey("prod"))!;
    const { directory, token } = await createDirectory(systemCtx, { environmentId: prod.id, name: "Restart writes" });
    const target: ScimTarget = { base: () => app.base, directoryId: directory.id, token };

    const acknowledged: string[] = [];
    const statuses = new Map<string, number>();
    let stop = false;
    let i = 0;
    const writer = async () => {
      while (!stop) {
        const name = `restart.${i++}@restart.example`;
        try {
          const r = await scim(target, "POST", "/Users", userBody(name));
          const key = r.status >= 500 ? "5xx" : String(r.status);
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          if (r.status === 201) acknowledged.push(name);
          else if (r.status < 500) throw new Error(`unexpected ${r.status}: ${JSON.stringify(r.body)}`);
        } catch (error) {
          if (error instanceof Error && error.message.startsWith("unexpected")) throw error;
          statuses.set("network", (statuses.get("network") ?? 0) + 1);
        }
      }
    };
    const writers = Array.from({ length: 4 }, writer);
    await eventually(async () => (acknowledged.length >= 40 ? true : undefined), 60_000, "writes before the restart");
    const beforeRestart = acknowledged.length;
    await world.restartDatabase(3_000);
    // Back: the app answers 201 again without a restart of its own.
    await eventually(async () => (acknowledged.length >= beforeRestart + 40 ? true : undefined), 90_000, "writes after the database came back");
    stop = true;
    await Promise.all(writers);

    // During the outage clients saw errors (5xx or a cut connection), never a success…
    expect((statuses.get("5xx") ?? 0) + (statuses.get("network") ?? 0)).toBeGreaterThan(0);
    // …and every acknowledged user is in the database (and with its access: a whole user).
    const { getDb } = await import("@/db/client");
    const rows = await getDb().execute<{ user_name: string; whole: boolean }>(sql`
      select du.user_name, exists (select 1 from environment_access a where a.user_id = du.user_id and a.environment_id = ${prod.id}) as whole
      from directory_users du where du.directory_id = ${directory.id}`);
    const stored = new Map(rows.map((r) => [r.user_name, r.whole]));
    expect(acknowledged.filter((n) => !stored.has(n))).toEqual([]);
    expect(rows.filter((r) => !r.whole)).toEqual([]);
    console.log(`[faults] restart: ${acknowledged.length} acknowledged, ${rows.length} stored, answers ${JSON.stringify(Object.fromEntries(statuses))}`);
  }, 300_000);
});
