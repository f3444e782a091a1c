import { execFile } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "@/db/schema";
import { createApiToken } from "@/lib/api-tokens";
import { serveApp, type LeanServer } from "@/lib/doors/server";
import { parseTrustProxy } from "@/lib/doors/server/client-address";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { getSql } from "@/db/client";

// The `iam` CLI as an admin or a pipeline runs it: its own process (bin/iam.mjs, no dependencies)
// against a live lean server answering the REST API from this test's database, and
// `npm run iam -- token create` (scripts/iam.ts) writing a token straight into that database.

const root = path.resolve(import.meta.dirname, "..");
const exec = promisify(execFile);
let env: { dev: Environment; test: Environment; prod: Environment };
let server: LeanServer;
let base: string;
let writeToken: string;
let readToken: string;

type Run = { code: number; stdout: string; stderr: string };

/** A node process in the repository's root with only the given environment (and PATH); its exit code and output. */
async function node(args: string[], childEnv: Record<string, string>): Promise<Run> {
  try {
    const { stdout, stderr } = await exec("node", args, { env: { PATH: process.env.PATH!, ...childEnv } as unknown as NodeJS.ProcessEnv, cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const iam = (args: string[], extraEnv: Record<string, string> = {}) => node([path.join(root, "bin/iam.mjs"), ...args], { IAM_URL: base, ...extraEnv });

/** scripts/iam.ts as `npm run iam -- …` runs it (tsx, react-server conditions), on this test's database. */
const serverCli = (args: string[]) =>
  node(["--conditions=react-server", "--import", "tsx", "scripts/iam.ts", ...args], { DATABASE_URL: process.env.DATABASE_URL!, NEXTAUTH_SECRET: process.env.NEXTAUTH_SECRET! });

beforeAll(async () => {
  env = await createEnvironments();
  writeToken = (await createApiToken(systemCtx, { name: "cli write", scope: "write", environmentIds: [] })).token;
  readToken = (await createApiToken(systemCtx, { name: "cli read", scope: "read", environmentIds: [] })).token;
  server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.close(1000);
});

/**
 * What may stand between the CLI and the console: it serves the console's OpenAPI document, then
 * answers every other request as a broken proxy would (an HTML 502 page), or hangs up (the console
 * went away after the CLI read its commands).
 */
async function standIn(mode: "html-502" | "hang-up") {
  const doc = await (await fetch(`${base}/api/v1/openapi.json`)).text();
  const seen: string[] = [];
  const stand = http.createServer((req, res) => {
    if (req.url === "/api/v1/openapi.json") return void res.writeHead(200, { "content-type": "application/json" }).end(doc);
    seen.push(`${req.method} ${req.url}`);
    if (mode === "hang-up") return void req.socket.destroy();
    res.writeHead(502, { "content-type": "text/html" }).end("<html><body><h1>502 Bad Gateway</h1></body></html>");
  });
  await new Promise<void>((resolve) => stand.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(stand.address() as AddressInfo).port}`;
  const close = () => new Promise<void>((resolve) => (stand.closeAllConnections(), stand.close(() => resolve())));
  return { url, seen, close };
}

const signInEtag = async (key: string) => (await fetch(`${base}/api/v1/environments/${key}/sign-in`, { headers: { authorization: `Bearer ${readToken}` } })).headers.get("etag");

describe("iam (bin/iam.mjs) against a live server", () => {
  it("every REST endpoint has a distinct command name (the OpenAPI operationIds)", async () => {
    const doc = (await (await fetch(`${base}/api/v1/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId?: string }>> };
    const ids = Object.values(doc.paths).flatMap((item) => Object.values(item).map((op) => op.operationId));
    expect(ids.length).toBeGreaterThan(20);
    expect(ids.every((id) => typeof id === "string" && /^[a-z-]+\.[a-z-]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("creates a user with flags (arrays comma-separated) and lists it as a table", async () => {
    const created = await iam(["users", "create", "--name", "Ana Ruiz", "--email", "ana.cli@example.com", "--environment-ids", `${env.dev.id},${env.prod.id}`], { IAM_TOKEN: writeToken });
    expect(created.stderr).toBe("");
    expect(created.code).toBe(0);
    const user = JSON.parse(created.stdout);
    expect(user).toMatchObject({ name: "Ana Ruiz", email: "ana.cli@example.com" });
    expect(await getSql()`select id from users where email = 'ana.cli@example.com'`).toEqual([{ id: user.id }]);

    const listed = await iam(["users", "list", "--environment", "prod", "--output", "table", "--all"], { IAM_TOKEN: readToken });
    expect(listed.code).toBe(0);
    const lines = listed.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^id\s+.*email/);
    expect(lines.some((l) => l.includes("ana.cli@example.com") && l.includes(user.id))).toBe(true);

    const got = await iam(["users", "get", user.id], { IAM_TOKEN: readToken });
    expect(JSON.parse(got.stdout)).toMatchObject({ id: user.id, email: "ana.cli@example.com" });
  });

  it("prints the server's reason and field errors and exits 1 when the server refuses, writing nothing", async () => {
    const before = await getSql()`select count(*)::int as n from users`;
    const readOnly = await iam(["users", "create", "--name", "X", "--email", "x.cli@example.com"], { IAM_TOKEN: readToken });
    expect([readOnly.code, readOnly.stderr.trim()]).toEqual([1, "iam: 403 This API token is read-only."]);
    const invalid = await iam(["users", "create", "--name", "No Email"], { IAM_TOKEN: writeToken });
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^iam: 400 /);
    expect(invalid.stderr).toMatch(/\n {2}email: /);
    const badToken = await iam(["users", "list"], { IAM_TOKEN: "iamc_not-a-token" });
    expect(badToken.code).toBe(1);
    expect(badToken.stderr).toMatch(/^iam: 401 /);
    expect(await getSql()`select count(*)::int as n from users`).toEqual(before);
  });

  it("refuses usage mistakes locally with exit 2 and says what is possible", async () => {
    expect(await iam(["widgets", "list"], { IAM_TOKEN: readToken })).toMatchObject({ code: 2, stderr: 'iam: no such resource "widgets"; try: iam help\n' });
    const verb = await iam(["users", "frobnicate"], { IAM_TOKEN: readToken });
    expect(verb.code).toBe(2);
    expect(verb.stderr).toMatch(/^iam: "users" has no verb "frobnicate"; it has: .*\bcreate\b/);
    const field = await iam(["users", "create", "--colour", "red"], { IAM_TOKEN: writeToken });
    expect(field.code).toBe(2);
    expect(field.stderr).toMatch(/^iam: unknown field --colour for users create; it takes: .*--email/);
    expect(await iam(["users", "get"], { IAM_TOKEN: readToken })).toMatchObject({ code: 2, stderr: "iam: usage: iam users get <id>\n" });
    const data = await iam(["users", "create", "--data", "{not json"], { IAM_TOKEN: writeToken });
    expect([data.code, data.stderr]).toEqual([2, expect.stringMatching(/^iam: --data is not JSON: /)]);
    const missing = await iam(["users", "create", "--data", "@/nonexistent/user.json"], { IAM_TOKEN: writeToken });
    expect([missing.code, missing.stderr]).toEqual([2, expect.stringMatching(/^iam: cannot read \/nonexistent\/user\.json: ENOENT/)]);
    expect(await iam(["users", "list"])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^iam: set IAM_TOKEN/) });
    const help = await iam(["help", "groups"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/iam groups add-members <id>/);
  });

  it("starts from token create: a directory in TEST whose token provisions a user over SCIM; a resource and a grant", async () => {
    // The pipeline's first step on the server machine: a token straight into the database.
    const made = await serverCli(["token", "create", "--name", "ci pipeline", "--scope", "write"]);
    expect(made.code).toBe(0);
    const pipeline = made.stdout.trim();
    const dir = await iam(["directories", "create", "--environment", "test", "--name", "Okta"], { IAM_TOKEN: pipeline });
    expect([dir.code, dir.stderr]).toEqual([0, ""]);
    const directory = JSON.parse(dir.stdout) as { scimBaseUrl: string; token: string };
    expect(directory.scimBaseUrl).toMatch(/\/scim\/v2\/[0-9a-f-]{36}$/);
    // The SCIM base URL names the public origin; the same path on this live server.
    const scimUsers = `${base}${new URL(directory.scimBaseUrl).pathname}/Users`;
    const scim = await fetch(scimUsers, {
      method: "POST",
      headers: { authorization: `Bearer ${directory.token}`, "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "scim.cli@example.com", name: { givenName: "Scim", familyName: "Cli" }, emails: [{ value: "scim.cli@example.com", primary: true }], active: true }),
    });
    expect(scim.status).toBe(201);
    expect(await getSql()`select source from users where email = 'scim.cli@example.com'`).toEqual([{ source: "scim" }]);

    const resource = await iam(["resources", "create", "--environment", "test", "--feature", "mcp", "--name", "Jira MCP"], { IAM_TOKEN: pipeline });
    expect(resource.code).toBe(0);
    const [group] = await getSql()<{ id: string }[]>`select id from groups where environment_id = ${env.test.id} and name = 'Everyone'`;
    const grant = await iam(["grants", "create", "--environment", "test", "--feature", "mcp", "--resource-id", JSON.parse(resource.stdout).id, "--group-ids", group!.id], { IAM_TOKEN: pipeline });
    expect([grant.code, JSON.parse(grant.stdout)]).toEqual([0, { added: 1, unchanged: 0 }]);
    const listed = await iam(["grants", "list", "--environment", "test", "--output", "table"], { IAM_TOKEN: readToken });
    expect(listed.stdout).toMatch(/mcp/);
  });

  it("promotes DEV to TEST: export, plan, apply, and a second plan is empty", async () => {
    const as = { IAM_TOKEN: writeToken };
    expect((await iam(["groups", "create", "--environment", "dev", "--name", "Ops", "--description", "On call"], as)).code).toBe(0);
    const genie = JSON.parse((await iam(["resources", "create", "--environment", "dev", "--feature", "agent_studio", "--name", "Ops genie"], as)).stdout);
    const [ops] = await getSql()<{ id: string }[]>`select id from groups where environment_id = ${env.dev.id} and name = 'Ops'`;
    expect((await iam(["grants", "create", "--environment", "dev", "--feature", "agent_studio", "--resource-id", genie.id, "--group-ids", ops!.id], as)).code).toBe(0);

    const exported = await iam(["env", "export", "dev"], as);
    expect(exported.code).toBe(0);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "iam-env-")), "dev.json");
    fs.writeFileSync(file, exported.stdout);
    expect(JSON.parse(exported.stdout)).toMatchObject({ format: "iam-console/environment-config@1", environment: { key: "dev" } });

    const plan = await iam(["env", "plan", "test", "--from", file], as);
    expect(plan.code).toBe(0);
    expect(plan.stdout).toContain("+ group Ops\n");
    expect(plan.stdout).toContain("+ grant Ops → Agent Studio “Ops genie”\n");
    const hash = JSON.parse((await iam(["env", "plan", "test", "--from", file, "--output", "json"], as)).stdout).hash;
    const applied = await iam(["env", "apply", "test", "--from", file, "--plan-hash", hash], as);
    expect([applied.code, applied.stdout.trim().split("\n").at(-1)]).toEqual([0, "Applied to test."]);
    expect(await iam(["env", "plan", "test", "--from", file], as)).toMatchObject({ code: 0, stdout: "No changes.\n" });

    const stale = await iam(["env", "apply", "test", "--from", file, "--plan-hash", hash], as);
    expect([stale.code, stale.stderr.trim()]).toEqual([1, "iam: 409 TEST (or the document) changed since the plan you reviewed: plan again."]);
    expect(await iam(["env", "plan", "test"], as)).toMatchObject({ code: 2, stderr: "iam: iam env plan needs --from FILE (a document from iam env export)\n" });
  });

  it("refuses a boolean that is not true or false, and a number that is not one, with exit 2 before anything is sent", async () => {
    const as = { IAM_TOKEN: writeToken };
    // Everything else a PUT of PROD's sign-in settings needs, well formed.
    const rest = ["--sso-enabled", "false", "--identity-provider-id", "null", "--enforcement", "optional", "--jit-enabled", "false", "--group-sync-enabled", "false", "--idle-timeout-minutes", "60"];
    const before = await signInEtag("prod");
    const auditBefore = await getSql()`select count(*)::int as n from audit_events`;
    // The reviewer's case: a typo turned password sign-in off, and "" was sent as 0.
    const typo = await iam(["environments", "set-sign-in", "prod", "--password-enabled", "flase", "--session-lifetime-minutes", "", ...rest], as);
    expect([typo.code, typo.stdout, typo.stderr]).toEqual([2, "", 'iam: --password-enabled takes true or false, not "flase"\n']);
    for (const [flag, value, reason] of [
      ["--password-enabled", "yes", 'iam: --password-enabled takes true or false, not "yes"\n'],
      ["--password-enabled", "", 'iam: --password-enabled takes true or false, not ""\n'],
      ["--session-lifetime-minutes", "", 'iam: --session-lifetime-minutes takes a whole number, not ""\n'],
      ["--session-lifetime-minutes", " ", 'iam: --session-lifetime-minutes takes a whole number, not " "\n'],
      ["--session-lifetime-minutes", "0x10", 'iam: --session-lifetime-minutes takes a whole number, not "0x10"\n'],
      ["--session-lifetime-minutes", "480.5", 'iam: --session-lifetime-minutes takes a whole number, not "480.5"\n'],
      ["--session-lifetime-minutes", "8h", 'iam: --session-lifetime-minutes takes a whole number, not "8h"\n'],
    ]) {
      const fields = { "--password-enabled": "true", "--session-lifetime-minutes": "480", [flag!]: value! };
      const refused = await iam(["environments", "set-sign-in", "prod", ...Object.entries(fields).flat(), ...rest], as);
      expect([flag, value, refused.code, refused.stderr]).toEqual([flag, value, 2, reason]);
    }
    expect(await signInEtag("prod")).toBe(before);
    expect(await getSql()`select count(*)::int as n from audit_events`).toEqual(auditBefore);
    // Well-formed, the same command is sent and applied.
    const done = await iam(["environments", "set-sign-in", "prod", "--password-enabled", "true", "--session-lifetime-minutes", "480", ...rest], as);
    expect([done.code, done.stderr]).toEqual([0, ""]);
    expect(JSON.parse(done.stdout)).toMatchObject({ passwordEnabled: true, sessionLifetimeMinutes: 480, idleTimeoutMinutes: 60 });
  });

  it("exits 3 when a proxy answers an HTML error page, or the server goes away after the commands are read (commands and env export, plan, apply)", async () => {
    const as = { IAM_TOKEN: readToken };
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "iam-env-")), "dev.json");
    fs.writeFileSync(file, (await iam(["env", "export", "dev"], as)).stdout);
    const proxy = await standIn("html-502");
    try {
      const page = "502 Bad Gateway with text/html, not the console's JSON (is IAM_URL the console's address, and is it up?)";
      for (const args of [["users", "list"], ["env", "export", "dev"], ["env", "plan", "test", "--from", file], ["env", "apply", "test", "--from", file]]) {
        const run = await iam(args, { ...as, IAM_URL: proxy.url });
        expect([args.join(" "), run.code, run.stderr]).toEqual([args.join(" "), 3, `iam: ${proxy.url} answered ${page}\n`]);
      }
    } finally {
      await proxy.close();
    }
    const gone = await standIn("hang-up");
    try {
      for (const args of [["users", "list"], ["env", "export", "dev"], ["env", "plan", "test", "--from", file], ["env", "apply", "test", "--from", file]]) {
        const run = await iam(args, { ...as, IAM_URL: gone.url });
        expect([args.join(" "), run.code, run.stderr]).toEqual([args.join(" "), 3, expect.stringMatching(new RegExp(`^iam: cannot reach ${gone.url.replace(/\./g, "\\.")}: .+\n$`))]);
      }
      expect(gone.seen.length).toBeGreaterThan(0);
    } finally {
      await gone.close();
    }
  });

  it("env apply honours --idempotency-key: a retry answers the first answer instead of applying again", async () => {
    const as = { IAM_TOKEN: writeToken };
    expect((await iam(["groups", "create", "--environment", "dev", "--name", "Retry"], as)).code).toBe(0);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "iam-env-")), "dev.json");
    fs.writeFileSync(file, (await iam(["env", "export", "dev"], as)).stdout);
    const hash = JSON.parse((await iam(["env", "plan", "test", "--from", file, "--output", "json"], as)).stdout).hash;
    const key = `apply-${crypto.randomUUID()}`;
    const first = await iam(["env", "apply", "test", "--from", file, "--plan-hash", hash, "--idempotency-key", key], as);
    expect([first.code, first.stdout]).toEqual([0, expect.stringContaining("+ group Retry\n")]);
    const promotions = await getSql()`select count(*)::int as n from audit_events where action = 'environment.promote'`;
    // Without the key, this plan's hash would now be refused (409: TEST changed since the plan).
    const retry = await iam(["env", "apply", "test", "--from", file, "--plan-hash", hash, "--idempotency-key", key], as);
    expect([retry.code, retry.stdout, retry.stderr]).toEqual([0, first.stdout, ""]);
    expect(await getSql()`select count(*)::int as n from audit_events where action = 'environment.promote'`).toEqual(promotions);
  });

  it("exits 3 when the server cannot be reached", async () => {
    const gone = await iam(["users", "list"], { IAM_URL: "http://127.0.0.1:1", IAM_TOKEN: readToken });
    expect(gone.code).toBe(3);
    expect(gone.stderr).toMatch(/^iam: cannot reach http:\/\/127\.0\.0\.1:1: /);
  });
});

describe("npm run iam -- token create (scripts/iam.ts)", () => {
  it("creates a token in the database, scoped as asked, audited as the system; the token works", async () => {
    const made = await serverCli(["token", "create", "--name", "pipeline", "--scope", "read", "--env", "prod"]);
    expect(made.code).toBe(0);
    expect(made.stderr).toContain('Created API token "pipeline" (read, prod only). It is shown once:');
    expect(made.stdout).toMatch(/^iamc_[\w-]+\n$/); // the token alone on stdout: `IAM_TOKEN=$(npm run -s iam -- token create …)`
    const token = made.stdout.trim();
    const [row] = await getSql()<{ scope: string; environment_ids: string[] }[]>`select scope, environment_ids from api_tokens where name = 'pipeline'`;
    expect(row).toEqual({ scope: "read", environment_ids: [env.prod.id] });
    const [audit] = await getSql()<{ actor_type: string; actor_label: string }[]>`select actor_type, actor_label from audit_events where action = 'api_token.create' and target_label = 'pipeline'`;
    expect(audit).toEqual({ actor_type: "system", actor_label: "iam token create (server CLI)" });

    const listed = await iam(["users", "list", "--environment", "prod"], { IAM_TOKEN: token });
    expect([listed.code, listed.stderr]).toEqual([0, ""]);
    expect(JSON.parse(listed.stdout)).toHaveProperty("data");
    const outside = await iam(["users", "list", "--environment", "dev"], { IAM_TOKEN: token });
    expect([outside.code, outside.stderr.trim()]).toEqual([1, "iam: 403 This reads an environment outside your scope."]);
  }, 60_000);

  it("refuses an unknown environment and an invalid scope with the reason and creates nothing", async () => {
    const before = await getSql()`select count(*)::int as n from api_tokens`;
    const unknown = await serverCli(["token", "create", "--name", "x", "--scope", "read", "--env", "staging"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('iam: no environment "staging"; there are: dev, test, prod');
    const scope = await serverCli(["token", "create", "--name", "x", "--scope", "admin"]);
    expect(scope.code).toBe(2);
    expect(scope.stderr).toContain("scope: Choose read, write, authz or reviewer.");
    expect(await getSql()`select count(*)::int as n from api_tokens`).toEqual(before);
  }, 60_000);
});
