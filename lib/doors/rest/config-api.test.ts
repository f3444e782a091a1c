import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { env as settings } from "@/env";
import { getDb, getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { sealAuditTrail, verifyAuditTrail } from "@/lib/audit/chain";
import { recordAudit } from "@/lib/audit/record";
import { parseTrustProxy } from "@/lib/doors/server/client-address";
import { serveApp } from "@/lib/doors/server";
import { authenticateDirectory } from "@/lib/directories";
import { addMembers, createGroup } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { restClient, restTokens, validateAgainstOpenApi } from "@/test-support/rest-api";
import { openApiDocument } from "./openapi";
import { createApiToken } from "@/lib/api-tokens";

const execFileAsync = promisify(execFile);

// The configuration endpoints (resources, grants and explain, directories, audit, webhooks, creating
// environments) and Idempotency-Key, through the same dispatcher as every REST call. Every answer
// recorded here is validated against the served OpenAPI document at the end (the document says
// what the API answers, not only what it accepts).

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens = { write: "", read: "", devWrite: "", devRead: "" };

beforeAll(async () => {
  env = await createEnvironments();
  Object.assign(tokens, await restTokens(env.dev.id));
  (settings() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = true;
});
afterAll(() => {
  (settings() as { ALLOW_PRIVATE_WEBHOOK_URLS: boolean }).ALLOW_PRIVATE_WEBHOOK_URLS = false;
});

const { api, recorded } = restClient(() => tokens.write);

const writes = async () => ({ resources: await countRows("resources"), grants: await countRows("access_grants"), directories: await countRows("directories"), webhooks: await countRows("webhook_endpoints") });

describe("resources", () => {
  it("creates, lists, reads, renames and deletes, audited", async () => {
    const created = await api("POST", "/resources", { body: { environment: "prod", feature: "mcp", name: "Salesforce MCP", description: "CRM tools" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ environment: "prod", feature: "mcp", name: "Salesforce MCP", description: "CRM tools" });
    const list = await api("GET", "/resources?environment=prod&feature=mcp", { token: tokens.read });
    expect(list.json.data.map((r: { name: string }) => r.name)).toEqual(["Salesforce MCP"]);
    expect((await api("GET", `/resources/${created.json.id}`, { token: tokens.read })).json).toMatchObject({ id: created.json.id, name: "Salesforce MCP" });
    const renamed = await api("PATCH", `/resources/${created.json.id}`, { body: { name: "Salesforce" } });
    expect([renamed.status, renamed.json.name, renamed.json.description]).toEqual([200, "Salesforce", "CRM tools"]);
    expect((await api("DELETE", `/resources/${created.json.id}`)).status).toBe(204);
    expect((await api("GET", `/resources/${created.json.id}`)).json.detail).toBe("Resource not found.");
    const audit = await getSql()<{ action: string }[]>`select action from audit_events where target_id = ${created.json.id} order by id`;
    expect(audit.map((a) => a.action)).toEqual(["resource.create", "resource.update", "resource.delete"]);
  });

  it("refuses bad input, unknown environments, read-only and out-of-scope tokens with the reason, writing nothing", async () => {
    const before = await writes();
    const missing = await api("POST", "/resources", { body: { feature: "mcp", name: "X" } });
    expect([missing.status, missing.json.errors.environment]).toEqual([400, ["Name the environment (its key)."]]);
    const feature = await api("POST", "/resources", { body: { environment: "prod", feature: "email", name: "X" } });
    expect([feature.status, feature.json.errors.feature]).toEqual([400, ["Choose Agent Studio, Workato GO or MCP."]]);
    expect((await api("POST", "/resources", { body: { environment: "staging", feature: "mcp", name: "X" } })).json).toMatchObject({ status: 404, detail: "No environment “staging”." });
    expect((await api("POST", "/resources", { token: tokens.read, body: { environment: "prod", feature: "mcp", name: "X" } })).json).toMatchObject({ status: 403, detail: "This API token is read-only." });
    expect((await api("POST", "/resources", { token: tokens.devWrite, body: { environment: "prod", feature: "mcp", name: "X" } })).json).toMatchObject({ status: 403, detail: "This change touches an environment outside your scope." });
    expect((await api("GET", "/resources?environment=prod", { token: tokens.devRead })).json).toMatchObject({ status: 403, detail: "This reads an environment outside your scope." });
    expect(await writes()).toEqual(before);
  });
});

describe("grants and explain", () => {
  it("grants a group a resource, lists it, explains a member's access, and removes it", async () => {
    const genie = (await api("POST", "/resources", { body: { environment: "dev", feature: "agent_studio", name: "Sales genie" } })).json;
    const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Sales" });
    const user = await createUser(systemCtx, { name: "Sam", email: "sam.grants@example.com", environmentIds: [env.dev.id] });
    await addMembers(systemCtx, { groupId: group.id, userIds: [user.id] });

    const added = await api("POST", "/grants", { token: tokens.devWrite, body: { environment: "dev", feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] } });
    expect([added.status, added.json]).toEqual([201, { added: 1, unchanged: 0 }]);
    const again = await api("POST", "/grants", { token: tokens.devWrite, body: { environment: "dev", feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] } });
    expect(again.json).toEqual({ added: 0, unchanged: 1 });
    const list = await api("GET", `/grants?environment=dev&resource=${genie.id}`, { token: tokens.devRead });
    expect(list.json.data).toEqual([expect.objectContaining({ feature: "agent_studio", resource: { id: genie.id, name: "Sales genie" }, tool: null, subject: { type: "group", id: group.id, name: "Sales" } })]);

    const why = await api("POST", "/grants/explain", { token: tokens.devRead, body: { environment: "dev", userId: user.id, feature: "agent_studio", resourceId: genie.id } });
    expect(why.json).toMatchObject({ allow: true, reason: "granted", path: expect.arrayContaining(["member of group Sales"]) });

    expect((await api("DELETE", `/grants/${list.json.data[0].id}`, { token: tokens.devWrite })).status).toBe(204);
    const after = await api("POST", "/grants/explain", { token: tokens.devRead, body: { environment: "dev", userId: user.id, feature: "agent_studio", resourceId: genie.id } });
    expect(after.json).toMatchObject({ allow: false, reason: "no_grant" });
  });

  it("refuses a tool outside an MCP server, nobody to grant, and another environment, with the reason", async () => {
    const before = await writes();
    const genie = (await api("POST", "/resources", { body: { environment: "dev", feature: "agent_studio", name: "Tool genie" } })).json;
    const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Tools" });
    const tool = await api("POST", "/grants", { body: { environment: "dev", feature: "agent_studio", resourceId: genie.id, tool: "whoami", groupIds: [group.id] } });
    expect([tool.status, tool.json.errors.tool]).toEqual([400, ["A tool can be granted only on one MCP server."]]);
    const nobody = await api("POST", "/grants", { body: { environment: "dev", feature: "agent_studio" } });
    expect([nobody.status, nobody.json.errors.groupIds]).toEqual([400, ["Pick at least one group or user."]]);
    const prod = await api("POST", "/grants", { token: tokens.devWrite, body: { environment: "prod", feature: "agent_studio", groupIds: [group.id] } });
    expect([prod.status, prod.json.detail]).toEqual([403, "This change touches an environment outside your scope."]);
    expect((await writes()).grants).toBe(before.grants);
  });
});

describe("directories", () => {
  it("creates a directory in TEST answering its SCIM base URL and a working token, shown once; rotates it; reads its log", async () => {
    const created = await api("POST", "/directories", { body: { environment: "test", name: "Okta" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ environment: "test", name: "Okta", status: "active", scimBaseUrl: `http://localhost:3000/scim/v2/${created.json.id}`, token: expect.stringMatching(/^scim_/) });
    expect(await authenticateDirectory(created.json.id, created.json.token)).toMatchObject({ directory: { id: created.json.id } });
    const read = await api("GET", `/directories/${created.json.id}`, { token: tokens.read });
    expect(read.json).not.toHaveProperty("token");
    expect(read.json.tokenHint).toBe(created.json.tokenHint);

    const rotated = await api("POST", `/directories/${created.json.id}/rotate-token`);
    expect(rotated.json.token).not.toBe(created.json.token);
    expect(await authenticateDirectory(created.json.id, created.json.token)).toBeNull();
    expect(await authenticateDirectory(created.json.id, rotated.json.token)).toMatchObject({ directory: { id: created.json.id } });

    expect((await api("POST", `/directories/${created.json.id}/disable`)).json.status).toBe("disabled");
    expect((await api("POST", `/directories/${created.json.id}/enable`)).json.status).toBe("active");
    expect((await api("GET", "/directories?environment=test", { token: tokens.read })).json.data.map((d: { name: string }) => d.name)).toEqual(["Okta"]);
    const log = await api("GET", `/directories/${created.json.id}/requests`, { token: tokens.read });
    expect([log.status, Array.isArray(log.json.data)]).toEqual([200, true]);
  });

  it("refuses a nameless directory, a read-only token and another environment's token, writing nothing", async () => {
    const before = await writes();
    const nameless = await api("POST", "/directories", { body: { environment: "test", name: " " } });
    expect([nameless.status, nameless.json.errors.name]).toEqual([400, ["Name the directory."]]);
    expect((await api("POST", "/directories", { token: tokens.read, body: { environment: "test", name: "X" } })).json.detail).toBe("This API token is read-only.");
    expect((await api("POST", "/directories", { token: tokens.devWrite, body: { environment: "test", name: "X" } })).json.detail).toBe("This change touches an environment outside your scope.");
    expect((await api("GET", "/directories?environment=test", { token: tokens.devRead })).json.detail).toBe("This reads an environment outside your scope.");
    expect(await writes()).toEqual(before);
  });
});

describe("audit events", () => {
  it("filters by action prefix and environment and pages with the cursor", async () => {
    const first = await api("GET", "/audit-events?action=resource.&limit=2", { token: tokens.read });
    expect(first.status).toBe(200);
    expect(first.json.data).toHaveLength(2);
    expect(first.json.data.every((e: { action: string }) => e.action.startsWith("resource."))).toBe(true);
    const second = await api("GET", `/audit-events?action=resource.&limit=2&cursor=${first.json.nextCursor}`, { token: tokens.read });
    expect(second.json.data[0].id).toBeLessThan(first.json.data[1].id);
    const dev = await api("GET", "/audit-events?environment=dev&limit=500", { token: tokens.devRead });
    expect(dev.json.data.length).toBeGreaterThan(0);
    expect(dev.json.data.every((e: { environment: string | null }) => e.environment === "dev")).toBe(true);
  });

  it("carry what each sealed event's hash covers, so a consumer can check a copy: hash = SHA-256(prevHash, newline, sealedContent)", async () => {
    await sealAuditTrail();
    const page = await api("GET", "/audit-events?limit=20", { token: tokens.read });
    const sealed = (page.json.data as { id: number; action: string; seq: number | null; hash: string; prevHash: string; sealedContent: string }[]).filter((e) => e.seq !== null);
    expect(sealed.length).toBeGreaterThan(1);
    for (const e of sealed) {
      expect(createHash("sha256").update(`${e.prevHash}\n${e.sealedContent}`).digest("hex")).toBe(e.hash);
      const content = JSON.parse(e.sealedContent) as unknown[];
      expect([content[0], content[5]]).toEqual([String(e.id), e.action]);
    }
    // Newest first: each event points at the one before it in the chain.
    const adjacent = sealed.slice(0, -1).map((e, i) => [e, sealed[i + 1]!] as const).filter(([newer, older]) => newer.seq === older.seq! + 1);
    expect(adjacent.length).toBeGreaterThan(0);
    for (const [newer, older] of adjacent) expect(newer.prevHash).toBe(older.hash);
  });

  it("a copy of its pages checks out away from the database (scripts/verify-audit-csv.py, saved pages or --api), and an edited, forged or retyped field is caught", async () => {
    await recordAudit(getDb(), { actor: { type: "system", id: null, label: "copier" }, requestId: "test" }, { action: "test.api_copy", targetType: "test", targetLabel: "t", after: { n: 1.5, enabled: true, text: "é ✓" } });
    // What JavaScript cannot hold exactly: the API answers it as JavaScript reads it.
    await getDb().execute(sql`insert into audit_events (actor_type, actor_label, action, target_type, after) values ('system', 'big', 'test.api_copy_big', 'test', '{"n": 9007199254740993, "x": 1e400, "y": -0.10}')`);
    // Started first: a server's start makes the signing keys if none exist yet (audited).
    const server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
    await sealAuditTrail();
    const report = await verifyAuditTrail();
    const head = `${report.head!.seq}:${report.head!.hash}`;
    // Every page, as an auditor saves them with curl: one JSON document after the other.
    const pages: string[] = [];
    for (let cursor = ""; ; ) {
      const page = await api("GET", `/audit-events?limit=7${cursor && `&cursor=${cursor}`}`, { token: tokens.read });
      pages.push(JSON.stringify(page.json));
      if (!page.json.nextCursor) break;
      cursor = page.json.nextCursor;
    }
    expect(pages.length).toBeGreaterThan(2);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "audit-api-copy-"));
    const run = async (args: string[], environment: Record<string, string> = {}) => {
      const { code, stdout, stderr } = await execFileAsync("python3", ["scripts/verify-audit-csv.py", ...args], { env: { ...process.env, ...environment } }).then(
        (r) => ({ code: 0, ...r }),
        (e: { code: number; stdout: string; stderr: string }) => e,
      );
      return { status: code, out: stdout.trim() || stderr.trim() };
    };
    const check = (text: string, ...args: string[]) => {
      const file = path.join(dir, "pages.json");
      fs.writeFileSync(file, text);
      return run([file, ...args]);
    };
    const events = pages.flatMap((p) => JSON.parse(p).data as { id: number; action: string; actor: { label: string }; after: Record<string, unknown>; seq: number }[]);
    const all = `ok: all ${events.length} events verified and vouched for by the head, positions 1–${report.head!.seq}`;
    expect(await check(pages.join("\n"), "--head", head)).toEqual({ status: 0, out: all });
    // Or read from the API by the script itself, every page.
    try {
      expect(await run(["--api", `http://127.0.0.1:${server.port}`, "--head", head], { IAM_TOKEN: tokens.read })).toEqual({ status: 0, out: all });
      // A live trail goes on: events sealed after the head are counted, not vouched for, and fail nothing.
      await recordAudit(getDb(), { actor: { type: "system", id: null, label: "later" }, requestId: "test" }, { action: "test.api_copy_later", targetType: "test" });
      expect((await run(["--api", `http://127.0.0.1:${server.port}`, "--head", head], { IAM_TOKEN: tokens.read })).out).toMatch(/^not vouched: event \d+ is not sealed/);
      await sealAuditTrail();
      expect(await run(["--api", `http://127.0.0.1:${server.port}`, "--head", head], { IAM_TOKEN: tokens.read })).toEqual({ status: 0, out: `${all}; 1 newer event is not covered by this head (run Verify again to cover it)` });
      expect(await run(["--api", `http://127.0.0.1:${server.port}`], { IAM_TOKEN: tokens.devRead })).toEqual({
        status: 2,
        out: expect.stringMatching(/^the API refused: 403 .*This API token is scoped to environments: pass \?environment=<key> of one of them\./),
      });
      expect(await run(["--api", `http://127.0.0.1:${server.port}`, "--environment", "dev"], { IAM_TOKEN: tokens.devRead })).toMatchObject({ status: 0, out: expect.stringMatching(/^ok: \d+ sealed events consistent .* gaps/) });
    } finally {
      await server.close();
    }
    const victim = events.find((e) => e.action === "test.api_copy")!;
    const edited = (edit: (e: (typeof events)[number]) => void) => JSON.stringify(events.map((e) => (e.id === victim.id ? ((c) => (edit(c), c))(structuredClone(e)) : e)));
    expect(await check(edited((e) => (e.actor.label = "Someone else")), "--head", head)).toEqual({ status: 1, out: `broken: event ${victim.id} (position ${victim.seq}): its actor.label says 'Someone else', the sealed content 'copier'` });
    expect(await check(edited((e) => (e.after.enabled = 1)))).toMatchObject({ status: 1, out: expect.stringMatching(new RegExp(`^broken: event ${victim.id} \\(position ${victim.seq}\\): its after says \\{.*"enabled": 1`)) });
    expect(await check(edited((e) => (e.after.n = 2.5)))).toMatchObject({ status: 1, out: expect.stringContaining("its after says") });
    // Rehashed: the next event's link gives it away.
    const forged = edited((e) => {
      const c = e as unknown as { sealedContent: string; prevHash: string; hash: string };
      c.sealedContent = c.sealedContent.replace("copier", "Someone else");
      e.actor.label = "Someone else";
      c.hash = createHash("sha256").update(`${c.prevHash}\n${c.sealedContent}`).digest("hex");
    });
    expect(await check(forged, "--head", head)).toMatchObject({ status: 1, out: expect.stringMatching(/^broken: event \d+ \(position \d+\): it does not point to the previous event's hash/) });
    expect(await check('{"data": [{"id": 1}]}')).toEqual({ status: 2, out: "not audit events of the REST API with their chain (GET /api/v1/audit-events): an element has no id or sealedContent" });
    fs.rmSync(dir, { recursive: true });
  });

  it("refuses a token limited to environments without one of them, and a bad cursor", async () => {
    expect((await api("GET", "/audit-events", { token: tokens.devRead })).json).toMatchObject({ status: 403, detail: "This API token is scoped to environments: pass ?environment=<key> of one of them." });
    expect((await api("GET", "/audit-events?environment=dev&accountWide=true", { token: tokens.devRead })).json).toMatchObject({
      status: 403,
      detail: "This API token is scoped to environments: it reads their events, not the account-wide ones.",
    });
    const wide = await api("GET", "/audit-events?environment=dev&accountWide=true&limit=500", { token: tokens.read });
    expect(new Set(wide.json.data.map((e: { environment: string | null }) => e.environment))).toEqual(new Set(["dev", null]));
    expect((await api("GET", "/audit-events?environment=prod", { token: tokens.devRead })).json).toMatchObject({ status: 403, detail: "This reads an environment outside your scope." });
    expect((await api("GET", "/audit-events?environment=nowhere", { token: tokens.read })).json).toMatchObject({ status: 404, detail: "No environment “nowhere”." });
    const cursor = await api("GET", "/audit-events?cursor=abc", { token: tokens.read });
    expect([cursor.status, cursor.json.errors.cursor]).toEqual([400, ["Pass the nextCursor of the previous page."]]);
    // Dates that are no dates, and a cursor past any id: 400 with the reason, not 500.
    // Real dates filter (a regression once refused them all): nothing of this run is from 2020 or before.
    const since = await api("GET", "/audit-events?from=2020-01-01&to=2999-12-31T23:59:59Z&limit=5", { token: tokens.read });
    expect([since.status, since.json.data.length]).toEqual([200, 5]);
    expect((await api("GET", "/audit-events?to=2020-01-01", { token: tokens.read })).json.data).toEqual([]);
    for (const query of ["from=2020-13-45", "to=x", "from=1e20", "from=0000-01-01"]) {
      const bad = await api("GET", `/audit-events?${query}`, { token: tokens.read });
      expect([query, bad.status, Object.values(bad.json.errors ?? {}).flat()]).toEqual([query, 400, ["Not a date (use YYYY-MM-DD or an ISO time)."]]);
    }
    expect((await api("GET", "/audit-events?cursor=99999999999999999999", { token: tokens.read })).status).toBe(400);
  });
});

describe("webhooks and environments", () => {
  it("creates a webhook (secret shown once), disables, enables and deletes it", async () => {
    const created = await api("POST", "/webhooks", { body: { name: "SIEM", url: "http://127.0.0.1:9/hook", actions: ["user."] } });
    expect([created.status, created.json.secret]).toEqual([201, expect.stringMatching(/^whsec_/)]);
    expect((await api("POST", `/webhooks/${created.json.id}/disable`)).json).toMatchObject({ id: created.json.id, enabled: false });
    expect((await api("POST", `/webhooks/${created.json.id}/enable`)).json).toMatchObject({ enabled: true });
    expect((await api("GET", "/webhooks", { token: tokens.read })).json.data).toEqual([expect.objectContaining({ name: "SIEM", actions: ["user."] })]);
    expect((await api("DELETE", `/webhooks/${created.json.id}`)).status).toBe(204);
    expect((await api("DELETE", `/webhooks/${created.json.id}`)).json.detail).toBe("Webhook not found.");
  });

  it("refuses a webhook over plain http to another host, and a token limited to environments", async () => {
    const before = await writes();
    const plain = await api("POST", "/webhooks", { body: { name: "X", url: "http://siem.example.com/hook" } });
    expect([plain.status, plain.json.errors.url]).toEqual([400, ["Webhooks are posted over https (plain http only to this machine)."]]);
    expect((await api("POST", "/webhooks", { token: tokens.devWrite, body: { name: "X", url: "https://siem.example.com/hook" } })).json.status).toBe(403);
    expect(await writes()).toEqual(before);
  });

  it("creates an environment; refuses a bad or taken key with the reason", async () => {
    const created = await api("POST", "/environments", { body: { key: "staging", name: "Staging" } });
    expect([created.status, created.json]).toEqual([201, expect.objectContaining({ key: "staging", name: "Staging" })]);
    const bad = await api("POST", "/environments", { body: { key: "Bad Key", name: "X" } });
    expect([bad.status, bad.json.errors.key]).toEqual([400, ["Use 1–32 lowercase letters, digits or dashes, starting with a letter."]]);
    expect((await api("POST", "/environments", { body: { key: "staging", name: "Again" } })).status).toBe(409);
    expect((await api("POST", "/environments", { body: { key: "security", name: "Security" } })).json.errors.key).toEqual(["That name is a page of the console (/console/security); choose another key."]);
    expect((await api("POST", "/environments", { token: tokens.devWrite, body: { key: "qa", name: "QA" } })).json.status).toBe(403);
  });
});

describe("Idempotency-Key on POST", () => {
  const user = (email: string) => ({ name: "Idem", email, environmentIds: [] as string[] });

  it("answers a retry with the first answer (one user created), marked as replayed", async () => {
    const before = await countRows("users");
    const headers = { "idempotency-key": "create-idem-1" };
    const first = await api("POST", "/users", { body: user("idem1@example.com"), headers });
    const retry = await api("POST", "/users", { body: user("idem1@example.com"), headers });
    expect(first.status).toBe(201);
    expect([retry.status, retry.json.id, retry.headers.get("idempotent-replayed")]).toEqual([201, first.json.id, "true"]);
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect(await countRows("users")).toBe(before + 1);
  });

  it("refuses the same key with another body (422) and says why, writing nothing", async () => {
    const headers = { "idempotency-key": "create-idem-2" };
    await api("POST", "/users", { body: user("idem2@example.com"), headers });
    const before = await countRows("users");
    const other = await api("POST", "/users", { body: user("someone-else@example.com"), headers });
    expect([other.status, other.json.detail]).toEqual([422, "This Idempotency-Key was already used for a different request (another path or body). Use a new key for a new request."]);
    expect(await countRows("users")).toBe(before);
  });

  it("frees the key of a refused request, so the corrected retry runs; keys are per token", async () => {
    const headers = { "idempotency-key": "create-idem-3" };
    const refused = await api("POST", "/users", { body: { name: "Idem" }, headers });
    expect(refused.status).toBe(400);
    const corrected = await api("POST", "/users", { body: user("idem3@example.com"), headers });
    expect(corrected.status).toBe(201);
    // Another token's same key is its own.
    const otherToken = await api("POST", "/users", { token: tokens.devWrite, body: { ...user("idem3b@example.com"), environmentIds: [env.dev.id] }, headers });
    expect(otherToken.status).toBe(201);
  });

  it("answers 409 while the first request runs, and refuses a malformed key", async () => {
    const headers = { "idempotency-key": "running-1" };
    const [token] = await getSql()<{ id: string }[]>`select id from api_tokens where name = 'writer'`;
    await getSql()`insert into api_idempotency_keys (token_id, key, method, path, body_sha256) values (${token!.id}, 'running-1', 'POST', '/users', 'x')`;
    const running = await api("POST", "/users", { body: user("idem4@example.com"), headers: { ...headers } });
    // The fingerprint differs from the placeholder's: a different request is 422, so use the stored one.
    expect(running.status).toBe(422);
    const body = JSON.stringify(user("idem5@example.com"));
    await getSql()`update api_idempotency_keys set body_sha256 = ${createHash("sha256").update(body).digest("hex")} where key = 'running-1'`;
    const inProgress = await api("POST", "/users", { body: user("idem5@example.com"), headers });
    expect([inProgress.status, inProgress.json.detail]).toEqual([409, "A request with this Idempotency-Key is still running; retry when it has answered."]);
    const malformed = await api("POST", "/users", { body: user("idem6@example.com"), headers: { "idempotency-key": "x".repeat(256) } });
    expect([malformed.status, malformed.json.errors["Idempotency-Key"]]).toEqual([400, ["Not a valid key."]]);
  });

  it("is ignored where a POST only asks (the decision endpoint, explain, plan): a decision is never replayed, so a suspension takes effect at once", async () => {
    const user = await api("POST", "/users", { body: { name: "Asked", email: "asked@example.com", environmentIds: [env.dev.id] } });
    expect((await api("POST", "/grants", { body: { environment: "dev", feature: "workato_go", userIds: [user.json.id] } })).status).toBe(201);
    const authz = await createApiToken(await realMemberCtx("owner"), { name: "idempotent checker", scope: "authz" });
    const headers = { "idempotency-key": "check-1" };
    const check = () => api("POST", "/authz/check", { token: authz.token, body: { subject: user.json.id, environment: "dev", feature: "workato_go" }, headers });
    expect((await check()).json.decisions[0]).toMatchObject({ allow: true, reason: "granted" });
    expect((await api("POST", `/users/${user.json.id}/suspend`)).status).toBe(200);
    const after = await check();
    expect([after.json.decisions[0], after.headers.get("idempotent-replayed")]).toEqual([expect.objectContaining({ allow: false, reason: "user_suspended" }), null]);
    const explain = () => api("POST", "/grants/explain", { body: { environment: "dev", userId: user.json.id, feature: "workato_go" }, headers: { "idempotency-key": "explain-1" } });
    const first = await explain();
    expect((await api("POST", `/users/${user.json.id}/reactivate`)).status).toBe(200);
    const second = await explain();
    expect([first.json.allow, first.json.reason, second.json.allow, second.headers.get("idempotent-replayed")]).toEqual([false, "user_suspended", true, null]);
    // The document says so: no Idempotency-Key header on the endpoints that ask.
    const doc = openApiDocument() as { paths: Record<string, { post: { parameters?: { name: string }[] } }> };
    for (const path of ["/authz/check", "/grants/explain", "/environments/{key}/plan"]) expect((doc.paths[path]!.post.parameters ?? []).map((p) => p.name)).not.toContain("Idempotency-Key");
    expect(doc.paths["/users"]!.post.parameters!.map((p) => p.name)).toContain("Idempotency-Key");
  });

  it("keeps a stored answer sealed: a directory's token is not readable in the table", async () => {
    const created = await api("POST", "/directories", { body: { environment: "dev", name: "Sealed" }, headers: { "idempotency-key": "dir-1" } });
    const replay = await api("POST", "/directories", { body: { environment: "dev", name: "Sealed" }, headers: { "idempotency-key": "dir-1" } });
    expect(replay.json.token).toBe(created.json.token);
    const [row] = await getSql()<{ response_sealed: string }[]>`select response_sealed from api_idempotency_keys where key = 'dir-1'`;
    expect(row!.response_sealed).not.toContain(created.json.token);
    expect(row!.response_sealed).not.toContain("Sealed");
  });
});

describe("promotion", () => {
  it("exports an environment, plans it against another, applies with the plan's hash, and plans again empty", async () => {
    await api("POST", "/environments", { body: { key: "promo-src", name: "Promo source" } });
    await api("POST", "/environments", { body: { key: "promo-dst", name: "Promo target" } });
    const [src] = await getSql()<{ id: string }[]>`select id from environments where key = 'promo-src'`;
    const group = await createGroup(systemCtx, { environmentId: src!.id, name: "Analysts", description: "Read the numbers" });
    const genie = (await api("POST", "/resources", { body: { environment: "promo-src", feature: "agent_studio", name: "Numbers genie" } })).json;
    await api("POST", "/grants", { body: { environment: "promo-src", feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] } });

    const exported = await api("GET", "/environments/promo-src/config", { token: tokens.read });
    expect(exported.status).toBe(200);
    expect(exported.json).toMatchObject({ format: "iam-console/environment-config@1", groups: [{ name: "Analysts" }], grants: [{ resource: "Numbers genie", group: "Analysts" }] });
    expect(Object.keys(exported.json).sort()).toEqual(["directories", "environment", "exportedAt", "format", "grants", "groupMappings", "groups", "resources", "signIn"]);

    const plan = await api("POST", "/environments/promo-dst/plan", { token: tokens.read, body: exported.json });
    expect(plan.status).toBe(200);
    expect(plan.json.changes.map((c: { action: string; kind: string }) => `${c.action} ${c.kind}`)).toEqual(["create group", "create resource", "create grant"]);
    expect(plan.json.text).toMatch(/^\+ group Analysts\n/);

    const applied = await api("POST", "/environments/promo-dst/apply", { body: { document: exported.json, planHash: plan.json.hash } });
    expect([applied.status, applied.json.hash]).toEqual([200, plan.json.hash]);
    const again = await api("POST", "/environments/promo-dst/plan", { token: tokens.read, body: exported.json });
    expect([again.json.changes, again.json.text]).toEqual([[], "No changes."]);
    const [promoted] = await getSql()<{ before: { plan: string } }[]>`select before from audit_events where action = 'environment.promote' and target_label = 'Promo target'`;
    expect(promoted!.before.plan).toBe(plan.json.hash);

    // The reviewed plan no longer holds once the target changed: refused, nothing written.
    await api("DELETE", `/resources/${(await api("GET", "/resources?environment=promo-dst", { token: tokens.read })).json.data[0].id}`);
    const before = await writes();
    const stale = await api("POST", "/environments/promo-dst/apply", { body: { document: exported.json, planHash: plan.json.hash } });
    expect([stale.status, stale.json.detail]).toEqual([409, "Promo target (or the document) changed since the plan you reviewed: plan again."]);
    expect(await writes()).toEqual(before);
  });

  it("refuses a document that is not a configuration, a bad plan hash, a read-only token and another environment's token, writing nothing", async () => {
    const before = await writes();
    const notConfig = await api("POST", "/environments/test/plan", { body: { hello: "world" } });
    expect([notConfig.status, notConfig.json.errors.format]).toEqual([400, ["Not an environment configuration (format iam-console/environment-config@1): export one with iam env export KEY."]]);
    const document = (await api("GET", "/environments/dev/config")).json;
    const hash = await api("POST", "/environments/test/apply", { body: { document, planHash: "abc" } });
    expect([hash.status, hash.json.errors.planHash]).toEqual([400, ["Pass the hash of the plan you reviewed (from plan)."]]);
    const dangling = await api("POST", "/environments/test/plan", { body: { ...document, grants: [{ feature: "mcp", resource: null, tool: null, group: "Nobody" }] } });
    expect([dangling.status, dangling.json.detail]).toEqual([400, "This document cannot be applied to TEST: The grant Nobody → all of MCP names a group the document does not define."]);
    expect((await api("POST", "/environments/test/apply", { token: tokens.read, body: { document } })).json).toMatchObject({ status: 403, detail: "This API token is read-only." });
    expect((await api("POST", "/environments/test/apply", { token: tokens.devWrite, body: { document } })).json).toMatchObject({ status: 403, detail: "This change touches an environment outside your scope." });
    expect((await api("GET", "/environments/prod/config", { token: tokens.devRead })).json).toMatchObject({ status: 403, detail: "This reads an environment outside your scope." });
    expect((await api("GET", "/environments/nowhere/config")).json).toMatchObject({ status: 404, detail: "No environment “nowhere”." });
    expect(await writes()).toEqual(before);
  });
});

describe("the recorded answers match the served OpenAPI document", () => {
  it("validates every answer recorded above against its operation's response schema", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(50);
  });
});
