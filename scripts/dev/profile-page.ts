import { closeDb } from "@/db/client";
import { databaseUrl } from "@/test-support/urls";
import { findEnvironmentByKey, listEnvironments } from "@/lib/environments";
import { listGroups } from "@/lib/groups";
import { listUsersForPage } from "@/lib/users/list";
import { dataDir, ensureSecret, openDatabase } from "../lib/runtime";

// Developer aid: time the data calls behind the Users page on the bench database.
const db = await openDatabase({ quiet: true });
process.env.DATABASE_URL = databaseUrl(db.url, "iam_bench_1000000");
process.env.NEXTAUTH_SECRET = ensureSecret(dataDir());
const env = (await findEnvironmentByKey("dev"))!;
const time = async (label: string, run: () => Promise<unknown>) => {
  await run();
  const t = performance.now();
  for (let i = 0; i < 10; i++) await run();
  console.log(label.padEnd(20), ((performance.now() - t) / 10).toFixed(1), "ms");
};
await time("environments", () => listEnvironments());
await time("groups(200)", () => listGroups(env.id, undefined, 200));
await time("users page", () => listUsersForPage({ environmentId: env.id }));
await closeDb();
await db.stop();
