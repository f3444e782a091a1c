import { parseArgs } from "node:util";
import { closeDb, createSql } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { seedDemo } from "@/scripts/demo-seed";
import { seedLarge } from "@/scripts/bench/seed-large";
import { databaseUrl } from "@/test-support/urls";
import { dataDir, ensureDatabase, ensureSecret, openDatabase } from "./lib/runtime";

// npm run seed:large -- --users 1000000 [--database NAME]
// Adds a large data set (see scripts/bench/seed-large.ts) to the app's database, or to NAME on the same server.
const { values } = parseArgs({ options: { users: { type: "string", default: "1000000" }, database: { type: "string" } } });
const users = Number(values.users);
if (!Number.isInteger(users) || users < 100 || users > 50_000_000) {
  console.error("--users must be a whole number between 100 and 50,000,000");
  process.exit(2);
}

const db = await openDatabase();
try {
  let url = db.url;
  if (values.database) {
    await ensureDatabase(databaseUrl(db.url, "postgres"), values.database);
    url = databaseUrl(db.url, values.database);
  }
  process.env.DATABASE_URL = url;
  process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
  await runMigrations(url);
  const seeded = await seedDemo({ ownerEmail: process.env.SEED_OWNER_EMAIL, ownerPassword: process.env.SEED_OWNER_PASSWORD });
  if (seeded.owner) console.log(`First owner: ${seeded.owner.email} / ${seeded.owner.password} (shown once)`);
  const sql = createSql(url, 1);
  try {
    await seedLarge(sql, { users, log: (line) => console.log(line) });
  } finally {
    await sql.end({ timeout: 5 });
  }
} finally {
  await closeDb();
  await db.stop();
}
