import { runMigrations } from "@/db/migrate";
import { openDatabase } from "./lib/runtime";

const db = await openDatabase();
try {
  await runMigrations(db.url);
  console.log("Migrations applied.");
} finally {
  await db.stop();
}
