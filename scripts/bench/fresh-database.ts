import { createSql } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { seedDemo } from "@/scripts/demo-seed";
import { databaseUrl } from "@/test-support/urls";
import { dataDir, ensureDatabase, ensureSecret, type OpenDatabase } from "../lib/runtime";

/**
 * A benchmark's own database on the server `db` points at: dropped and recreated, migrated and
 * seeded with the demo; DATABASE_URL and NEXTAUTH_SECRET are set for the domain code to use it.
 */
export async function freshBenchDatabase(db: OpenDatabase, database: string): Promise<string> {
  const admin = createSql(databaseUrl(db.url, "postgres"), 1);
  await admin.unsafe(`drop database if exists "${database}" with (force)`);
  await admin.end({ timeout: 5 });
  await ensureDatabase(databaseUrl(db.url, "postgres"), database);
  const url = databaseUrl(db.url, database);
  process.env.DATABASE_URL = url;
  process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
  await runMigrations(url);
  await seedDemo({ ownerPassword: "bench-owner-password-not-used-elsewhere" });
  return url;
}
