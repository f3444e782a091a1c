import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "@/db/embedded";

// Bootstrap shared by the commands (start, migrate, seed, benchmarks): where the data lives,
// which database to use, and the generated secrets. The app itself reads them through env.ts.

export const APP_DATABASE = "iam";

export function dataDir(): string {
  const dir = path.resolve(process.env.DATA_DIR ?? ".data");
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** NEXTAUTH_SECRET, or one generated into the data folder on first start and reused after. */
export function ensureSecret(dir: string): string {
  if (process.env.NEXTAUTH_SECRET) return process.env.NEXTAUTH_SECRET;
  const file = path.join(dir, "nextauth-secret");
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const secret = crypto.randomBytes(32).toString("base64url");
  fs.writeFileSync(file, secret + "\n", { mode: 0o600 });
  return secret;
}

export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql`select 1 as ok from pg_database where datname = ${name}`;
    if (!row) await sql.unsafe(`create database "${name}"`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export type OpenDatabase = { url: string; embedded: boolean; stop(): Promise<void> };

/**
 * DATABASE_URL when set; otherwise the embedded Postgres in the data folder (started, or reused
 * when already running). `adopt` makes stop() stop a cluster this process did not start.
 */
export async function openDatabase(options: { adopt?: boolean; quiet?: boolean; statementStats?: boolean } = {}): Promise<OpenDatabase> {
  if (process.env.DATABASE_URL) return { url: process.env.DATABASE_URL, embedded: false, stop: async () => {} };
  const dir = dataDir();
  const logFile = path.join(dir, "postgres.log");
  if (!options.quiet) console.log(`Starting embedded Postgres in ${path.join(dir, "postgres")} (log: ${logFile})`);
  const server = await startEmbeddedPostgres({
    dataDir: dir,
    adopt: options.adopt,
    statementStats: options.statementStats,
    log: (line) => fs.appendFileSync(logFile, line + "\n"),
  });
  await ensureDatabase(server.url, APP_DATABASE);
  return { url: server.urlFor(APP_DATABASE), embedded: true, stop: server.stop };
}
