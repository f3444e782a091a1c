import path from "node:path";
import { createSql } from "@/db/client";
import { backupDatabase } from "@/lib/backup";
import { openDatabase } from "./lib/runtime";

// npm run backup -- FILE: a consistent backup (one snapshot) of the configured database, or of the
// embedded one when DATABASE_URL is unset (stop the app first or not: the snapshot is consistent).
const file = process.argv[2];
if (!file) {
  console.error("usage: npm run backup -- FILE");
  process.exit(2);
}
const db = await openDatabase({ quiet: true });
const pg = createSql(db.url, 4);
try {
  const header = await backupDatabase(pg, path.resolve(file));
  const rows = header.tables.reduce((n, t) => n + t.rows, 0);
  console.log(`Backed up ${header.tables.length} tables, ${rows} rows, at migration ${header.migrations.count}, to ${path.resolve(file)}`);
} catch (error) {
  console.error(`Backup failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await pg.end({ timeout: 5 });
  await db.stop();
}
