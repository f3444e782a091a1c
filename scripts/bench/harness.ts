import { closeDb } from "@/db/client";
import type { AppProcess } from "../lib/app-process";
import { openDatabase, type OpenDatabase } from "../lib/runtime";

/**
 * A benchmark's lifecycle: open the database server (embedded unless DATABASE_URL), run `body`,
 * and whatever happens stop the app it started (`own`), the client and the server, then exit
 * (non-zero after an error). `statementStats` loads pg_stat_statements into the embedded server.
 */
export async function runBench(body: (db: OpenDatabase, own: (app: AppProcess) => AppProcess) => Promise<void>, options: { statementStats?: boolean } = {}): Promise<never> {
  const db = await openDatabase({ quiet: true, statementStats: options.statementStats });
  const apps: AppProcess[] = [];
  try {
    await body(db, (app) => (apps.push(app), app));
  } catch (error) {
    console.error(error);
    process.exitCode = 1;
  } finally {
    for (const app of apps) await app.stop();
    await closeDb();
    await db.stop();
  }
  process.exit(process.exitCode ?? 0);
}
