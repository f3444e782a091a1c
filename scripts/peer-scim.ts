import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDb } from "@/db/client";
import { freePort } from "@/db/embedded";
import { runMigrations } from "@/db/migrate";
import { seedDemo } from "@/db/seed";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { findEnvironmentByKey } from "@/lib/environments";
import { createDirectory } from "@/lib/scim/directories";
import { runMicrosoftCollection } from "./lib/ms-scim";
import { ensureSecret, openDatabase } from "./lib/runtime";

// npm run peer:scim — Microsoft's SCIM test collection (the requests Entra ID sends, with
// assertions) run with newman against a fresh directory of a freshly started app on an embedded
// database. Last line: `N passed, N failed` (assertions).

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-peer-scim-"));
  process.env.DATA_DIR = dataDir;
  const db = await openDatabase({ quiet: true });
  const port = await freePort();
  let child: ReturnType<typeof spawn> | undefined;
  try {
    process.env.DATABASE_URL = db.url;
    process.env.NEXTAUTH_SECRET = ensureSecret(dataDir);
    process.env.NEXTAUTH_URL = `http://127.0.0.1:${port}`;
    await runMigrations(db.url);
    await seedDemo({ ownerPassword: "peer-scim-owner-password-not-used" });
    const env = (await findEnvironmentByKey("test"))!;
    const { directory, token } = await createDirectory({ actor: { ...SYSTEM_ACTOR, label: "peer:scim" } }, { environmentId: env.id, name: "Microsoft SCIM test collection" });
    await closeDb();

    child = spawn(path.resolve("node_modules/.bin/tsx"), ["--conditions=react-server", "scripts/start.ts"], {
      env: { ...process.env, PORT: String(port), DATABASE_URL: db.url, DATA_DIR: dataDir, NEXTAUTH_URL: `http://127.0.0.1:${port}` },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`The app did not start:\n${output.slice(-3000)}`)), 360_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (/Identity console ready at/.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child!.stdout!.on("data", onData);
      child!.stderr!.on("data", onData);
      child!.on("exit", (code) => reject(new Error(`The app exited (${code}):\n${output.slice(-3000)}`)));
    });
    const base = `http://127.0.0.1:${port}/scim/v2/${directory.id}`;
    const result = await runMicrosoftCollection(base, token, process.env.PEER_SCIM_REPORT);
    for (const f of result.failures) console.log(`  failed: ${f}`);
    console.log(`${result.total - result.failed} passed, ${result.failed} failed`);
    process.exitCode = result.failed ? 1 : 0;
  } finally {
    if (child?.pid) {
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // already gone
      }
      await new Promise((r) => setTimeout(r, 1500));
    }
    await db.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("peer-scim.ts")) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
