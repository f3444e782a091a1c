import fs from "node:fs";
import path from "node:path";
import { createSql } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { RestoreError, restoreDatabase } from "@/lib/backup";
import { dataDir, ensureSecret, openDatabase } from "./lib/runtime";

// npm run restore -- FILE [--replace]: loads a backup into the configured database (or the
// embedded one), migrated first. Refuses a database that holds data unless --replace. Stop the app
// while restoring.
const file = process.argv.find((a, i) => i >= 2 && !a.startsWith("--"));
const replace = process.argv.includes("--replace");
if (!file || !fs.existsSync(file)) {
  console.error(file ? `No such file: ${file}` : "usage: npm run restore -- FILE [--replace]");
  process.exit(2);
}
const db = await openDatabase({ quiet: true });
process.env.DATABASE_URL = db.url;
process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
const pg = createSql(db.url, 4);
try {
  await runMigrations(db.url);
  // Jackson's tables exist once Jackson has started against this database.
  const { jackson } = await import("@/lib/sso/jackson");
  await jackson();
  const header = await restoreDatabase(pg, path.resolve(file), { replace });
  const rows = header.tables.reduce((n, t) => n + t.rows, 0);
  console.log(`Restored ${header.tables.length} tables, ${rows} rows, from a backup of ${header.createdAt}.`);
} catch (error) {
  console.error(`Restore failed: ${error instanceof RestoreError ? error.message : (error as Error).stack}`);
  process.exitCode = 1;
} finally {
  await pg.end({ timeout: 5 });
  await db.stop();
  process.exit(process.exitCode ?? 0); // Jackson keeps its own connections open

}
