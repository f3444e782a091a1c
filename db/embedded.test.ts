import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { alive, startEmbeddedPostgres } from "./embedded";

// The embedded default: a real Postgres in a data folder of our own, whose data survives a restart,
// and which a second command reuses instead of fighting over it.

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-embedded-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("embedded Postgres", () => {
  it("keeps data across a restart and is reused while running", { timeout: 60_000 }, async () => {
    const first = await startEmbeddedPostgres({ dataDir: dir });
    const sql = postgres(first.url, { max: 1 });
    await sql`create table kept (value text)`;
    await sql`insert into kept values ('survives')`;
    await sql.end();

    // A second command while the server runs: same port, and its stop() leaves the server alone.
    const second = await startEmbeddedPostgres({ dataDir: dir });
    expect(second.port).toBe(first.port);
    await second.stop();
    const stillUp = postgres(first.url, { max: 1 });
    expect((await stillUp`select value from kept`)[0]).toEqual({ value: "survives" });
    await stillUp.end();

    await first.stop();
    expect(fs.existsSync(path.join(dir, "postgres", "postmaster.pid"))).toBe(false);

    const restarted = await startEmbeddedPostgres({ dataDir: dir });
    const again = postgres(restarted.url, { max: 1 });
    expect((await again`select value from kept`)[0]).toEqual({ value: "survives" });
    expect(fs.statSync(path.join(dir, "postgres-password")).mode & 0o777).toBe(0o600);
    await again.end();
    await restarted.stop();
  });

  it("stops at once when its server is already gone (killed or crashed)", { timeout: 60_000 }, async () => {
    const own = fs.mkdtempSync(path.join(os.tmpdir(), "iam-embedded-gone-"));
    try {
      const server = await startEmbeddedPostgres({ dataDir: own, ephemeral: true });
      const pid = Number(fs.readFileSync(path.join(own, "postgres", "postmaster.pid"), "utf8").split("\n")[0]);
      process.kill(pid, "SIGKILL");
      // Not timed: the kill is seen when the pid no longer answers a signal.
      while (alive(pid)) await new Promise((resolve) => setImmediate(resolve));
      // Before, this waited for an exit event that had already happened, and never returned.
      await expect(server.stop()).resolves.toBeUndefined();
    } finally {
      fs.rmSync(own, { recursive: true, force: true });
    }
  });
});
