import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort, startEmbeddedPostgres, type EmbeddedServer } from "@/db/embedded";
import { startApp, type AppProcess } from "../lib/app-process";

// The fault tests' world: a real Postgres cluster of their own (embedded, durable), and real app
// instances (`npm start` with DATABASE_URL: migrations, seed, the production build, `next start`)
// that can be killed with SIGKILL, restarted, or run two at once on the one database. The test
// process itself uses the same database through the domain layer to set up and to check.

export type Instance = { base: string; port: number; app: AppProcess };

export type FaultWorld = {
  url: string;
  /** Starts an instance; `publicUrl` is the URL users see (two instances behind one address). */
  start(options?: { env?: Record<string, string>; publicUrl?: string; port?: number }): Promise<Instance>;
  /** Stops Postgres (fast shutdown: connections are cut) and starts it again on the same port. */
  restartDatabase(downMs: number): Promise<void>;
  stopDatabase(): Promise<void>;
  startDatabase(): Promise<void>;
  close(): Promise<void>;
};

export async function faultWorld(name: string): Promise<FaultWorld> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `iam-faults-${name}-`));
  const port = await freePort();
  let pg: EmbeddedServer = await startEmbeddedPostgres({ dataDir: dir, port });
  const url = pg.urlFor("postgres");
  const secret = randomBytes(32).toString("base64url");
  // This process talks to the same database, with the same secret, through the domain layer.
  process.env.DATABASE_URL = url;
  process.env.NEXTAUTH_SECRET = secret;
  const instances: Instance[] = [];
  const world: FaultWorld = {
    url,
    async start(options = {}) {
      const appPort = options.port ?? (await freePort());
      const base = `http://localhost:${appPort}`;
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        ...options.env,
        DATABASE_URL: url,
        NEXTAUTH_SECRET: secret,
        NEXTAUTH_URL: options.publicUrl ?? base,
        PORT: String(appPort),
        DATA_DIR: path.join(dir, `app-${appPort}`),
        NODE_ENV: "production",
      };
      delete env.AUDIT_STDOUT;
      const app = await startApp(env);
      const instance = { base, port: appPort, app };
      instances.push(instance);
      return instance;
    },
    async stopDatabase() {
      await pg.stop();
    },
    async startDatabase() {
      pg = await startEmbeddedPostgres({ dataDir: dir, port });
    },
    async restartDatabase(downMs) {
      await world.stopDatabase();
      await new Promise((r) => setTimeout(r, downMs));
      await world.startDatabase();
    },
    async close() {
      for (const i of instances) await i.app.kill().catch(() => undefined);
      const { closeDb } = await import("@/db/client");
      await closeDb().catch(() => undefined);
      await pg.stop().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await check().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > until) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
