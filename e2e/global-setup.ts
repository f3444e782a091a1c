import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../db/embedded";

// Starts the app exactly as a person would (`npm start`: embedded Postgres, migrations, seed,
// production build, `next start`) in a fresh data folder on a free port, and reads the first
// owner's credentials from what it prints.

export default async function globalSetup() {
  if (!fs.existsSync("/usr/bin/chromium")) {
    throw new Error("Debian's Chromium is missing: run `apt-get install -y chromium` (.ci/run does).");
  }
  const port = await freePort();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-e2e-"));
  // A fresh app: its own embedded database and generated secret, whatever the caller's environment says.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATA_DIR: dataDir };
  for (const key of ["DATABASE_URL", "NEXTAUTH_URL", "NEXTAUTH_SECRET", "SEED_OWNER_EMAIL", "SEED_OWNER_PASSWORD"]) delete env[key];
  const child = spawn(path.resolve("node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/start.ts"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`The app did not start within 6 minutes:\n${output.slice(-4000)}`)), 360_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/Identity console ready at/.test(output) && /Password:\s+\S+/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", (c: Buffer) => (output += c.toString()));
    child.on("exit", (code) => reject(new Error(`The app exited (${code}) before it was ready:\n${output.slice(-4000)}`)));
  });
  await ready;
  process.env.E2E_BASE_URL = `http://localhost:${port}`;
  process.env.E2E_OWNER_EMAIL = /Email:\s+(\S+)/.exec(output)![1];
  process.env.E2E_OWNER_PASSWORD = /Password:\s+(\S+)/.exec(output)![1];

  return async () => {
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (child.exitCode === null) process.kill(-child.pid!, "SIGKILL");
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
