import crypto from "node:crypto";
import postgres from "postgres";
import { afterAll, beforeAll, inject } from "vitest";
import { closeDb } from "@/db/client";
import { databaseUrl } from "./urls";

// Each test file gets a database of its own, cloned from the migrated template (~40 ms), so files
// run in parallel and in any order without seeing each other's rows.

const serverUrl = inject("serverUrl");
const template = inject("templateDatabase");
const database = `iam_t_${template.split("_")[2]}_${crypto.randomBytes(5).toString("hex")}`;
const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });

beforeAll(async () => {
  for (let attempt = 0; ; attempt++) {
    try {
      await admin.unsafe(`create database "${database}" template "${template}"`);
      break;
    } catch (error) {
      // Another file cloning the same template at this instant: try again shortly.
      if ((error as { code?: string }).code !== "55006" || attempt > 20) throw error;
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
    }
  }
  process.env.DATABASE_URL = databaseUrl(serverUrl, database);
  process.env.NEXTAUTH_SECRET = crypto.randomBytes(32).toString("base64url");
});

afterAll(async () => {
  await closeDb();
  await admin.unsafe(`drop database if exists "${database}" with (force)`);
  await admin.end({ timeout: 5 });
});
