import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "@/db/embedded";
import { runMigrations } from "@/db/migrate";
import { databaseUrl } from "./urls";

// One Postgres per test run: the embedded one on a random port, or TEST_DATABASE_URL's server
// (CI's second pass runs against the machine's Postgres 15). Migrations run once into a template;
// each test file then gets its own database cloned from it (test-support/setup-file.ts).

declare module "vitest" {
  export interface ProvidedContext {
    serverUrl: string;
    templateDatabase: string;
  }
}

export default async function setup(project: TestProject) {
  let serverUrl: string;
  let stopServer = async () => {};
  let dir: string | undefined;
  if (process.env.TEST_DATABASE_URL) {
    serverUrl = process.env.TEST_DATABASE_URL;
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "iam-vitest-"));
    const server = await startEmbeddedPostgres({ dataDir: dir, ephemeral: true });
    serverUrl = server.url;
    stopServer = server.stop;
  }
  const template = `iam_tpl_${process.pid}_${Date.now().toString(36)}`;
  const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${template}"`);
  await runMigrations(databaseUrl(serverUrl, template));
  project.provide("serverUrl", serverUrl);
  project.provide("templateDatabase", template);

  return async () => {
    const leftovers = await admin<{ datname: string }[]>`
      select datname from pg_database where datname = ${template} or datname like ${`iam_t_${process.pid}_%`}`;
    for (const { datname } of leftovers) await admin.unsafe(`drop database if exists "${datname}" with (force)`);
    await admin.end({ timeout: 5 });
    await stopServer();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  };
}
