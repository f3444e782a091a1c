import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { closeDb } from "@/db/client";
import { freePort } from "@/db/embedded";
import { SYSTEM_ACTOR } from "@/lib/auth/actor";
import { findEnvironmentByKey } from "@/lib/environments";
import { createDirectory, scimBaseUrl } from "@/lib/directories";
import { freshBenchDatabase } from "./bench/fresh-database";
import { startApp, type AppProcess } from "./lib/app-process";
import { runMicrosoftCollection } from "./lib/ms-scim";
import { openDatabase } from "./lib/runtime";
// npm run peer:scim — Microsoft's SCIM test collection (the requests Entra ID sends, with
// assertions) run with newman against a fresh directory of a freshly started app on an embedded
// database. Last line: `N passed, N failed` (assertions).

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-peer-scim-"));
  process.env.DATA_DIR = dataDir;
  const db = await openDatabase({ quiet: true });
  const port = await freePort();
  // Before anything reads the (cached) configuration: the app's origin is part of the SCIM URL.
  process.env.NEXTAUTH_URL = `http://127.0.0.1:${port}`;
  let app: AppProcess | undefined;
  try {
    const url = await freshBenchDatabase(db, "iam_peer_scim");
    const env = (await findEnvironmentByKey("test"))!;
    const { directory, token } = await createDirectory({ actor: { ...SYSTEM_ACTOR, label: "peer:scim" } }, { environmentId: env.id, name: "Microsoft SCIM test collection", patchAnswer: "no_content" });
    await closeDb();
    app = await startApp({ ...process.env, PORT: String(port), DATABASE_URL: url, DATA_DIR: dataDir });
    const result = await runMicrosoftCollection(scimBaseUrl(directory.id), token, process.env.PEER_SCIM_REPORT);
    for (const f of result.failures) console.log(`  failed: ${f}`);
    console.log(`${result.total - result.failed} passed, ${result.failed} failed`);
    process.exitCode = result.failed ? 1 : 0;
  } finally {
    await app?.stop();
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
