import { closeDb } from "@/db/client";
import { runMigrations } from "@/db/migrate";
import { seedDemo } from "@/scripts/demo-seed";
import { dataDir, ensureSecret, openDatabase } from "./lib/runtime";

const db = await openDatabase();
try {
  process.env.DATABASE_URL = db.url;
  process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
  await runMigrations(db.url);
  const result = await seedDemo({ ownerEmail: process.env.SEED_OWNER_EMAIL, ownerPassword: process.env.SEED_OWNER_PASSWORD });
  console.log("Demo seed applied.");
  if (result.owner) console.log(`First owner: ${result.owner.email} / ${result.owner.password} (shown once)`);
} finally {
  await closeDb();
  await db.stop();
}
