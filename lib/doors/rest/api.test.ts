import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { Validator } from "@seriousme/openapi-schema-validator";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, realMemberCtx } from "@/test-support/fixtures";
import { createApiToken, revokeApiToken } from "@/lib/api-tokens";
import { restClient, validateAgainstOpenApi } from "@/test-support/rest-api";
import { MAX_BODY_BYTES, RATE_LIMIT_PER_MINUTE } from "./handler";
import { openApiDocument } from "./openapi";
import { ENDPOINTS } from "./v1";

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens: Record<"write" | "read" | "devWrite" | "revoked", string> = { write: "", read: "", devWrite: "", revoked: "" };

beforeAll(async () => {
  env = await createEnvironments();
  const owner = await realMemberCtx("owner");
  tokens.write = (await createApiToken(owner, { name: "writer", scope: "write" })).token;
  tokens.read = (await createApiToken(owner, { name: "reader", scope: "read" })).token;
  tokens.devWrite = (await createApiToken(owner, { name: "dev writer", scope: "write", environmentIds: [env.dev.id] })).token;
  const revoked = await createApiToken(owner, { name: "old", scope: "write" });
  await revokeApiToken(owner, revoked.record.id);
  tokens.revoked = revoked.token;
});

const { api, recorded } = restClient(() => tokens.write);

async function newUser(email: string, environmentIds = [env.dev.id]) {
  const r = await api("POST", "/users", { body: { name: email.split("@")[0], email, environmentIds } });
  expect(r.status).toBe(201);
  return r.json as { id: string; version: number };
}

describe("authentication, rate limit and transport errors", () => {
  it("refuses a missing, unknown or revoked token with 401 and a challenge", async () => {
    const missing = await api("GET", "/environments", { token: null });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("www-authenticate")).toContain("Bearer");
    expect(missing.headers.get("content-type")).toBe("application/problem+json");
    expect(missing.json).toMatchObject({ status: 401, type: "urn:iam-console:problem:missing_token" });
    expect((await api("GET", "/environments", { token: "iamc_not-a-real-token" })).json.detail).toBe("The API token is unknown, revoked or expired.");
    expect((await api("GET", "/environments", { token: tokens.revoked })).status).toBe(401);
  });

  it("answers unknown paths with 404 and wrong methods with 405 and Allow", async () => {
    expect((await api("GET", "/nothing-here")).status).toBe(404);
    const wrong = await api("PATCH", "/environments");
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get("allow")).toBe("GET, POST");
  });

  it("rejects invalid JSON (400), a non-JSON body (415) and a huge body (413), writing nothing", async () => {
    const before = await countRows("users");
    const invalid = await api("POST", "/users", { raw: "{not json" });
    expect(invalid.status).toBe(400);
    expect(invalid.json.detail).toBe("The body is not valid JSON.");
    expect((await api("POST", "/users", { raw: "name=x", headers: { "content-type": "application/x-www-form-urlencoded" } })).status).toBe(415);
    const huge = await api("POST", "/users", { raw: JSON.stringify({ name: "x".repeat(MAX_BODY_BYTES + 10), email: "huge@example.com" }) });
    expect(huge.status).toBe(413);
    expect(await countRows("users")).toBe(before);
  });

  it("limits each token per minute in Postgres, with 429 and Retry-After", async () => {
    const { token, record } = await createApiToken(await realMemberCtx("owner"), { name: "busy", scope: "read" });
    expect((await api("GET", "/environments", { token })).headers.get("x-ratelimit-remaining")).toBe(String(RATE_LIMIT_PER_MINUTE - 1));
    await getDb().execute(sql`update rate_limits set count = ${RATE_LIMIT_PER_MINUTE} where key = ${`api:${record.id}`}`);
    const limited = await api("GET", "/environments", { token });
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(limited.json.detail).toBe(`Rate limit of ${RATE_LIMIT_PER_MINUTE} requests a minute reached.`);
  });
});

describe("users", () => {
  it("creates a user with environments and groups: 201, Location, ETag", async () => {
    const g = await api("POST", "/groups", { body: { environment: "dev", name: "API Team" } });
    expect(g.status).toBe(201);
    const r = await api("POST", "/users", { body: { name: "Api User", email: "api.user@example.com", environmentIds: [env.dev.id, env.prod.id], groupIds: [g.json.id] } });
    expect(r.status).toBe(201);
    expect(r.headers.get("location")).toBe(`/api/v1/users/${r.json.id}`);
    expect(r.headers.get("etag")).toBe('W/"1"');
    expect(r.json.environments.map((e: { key: string }) => e.key)).toEqual(["dev", "prod"]);
    expect(r.json.groups.map((x: { environment: string; name: string }) => `${x.environment}/${x.name}`).sort()).toEqual(["dev/API Team", "dev/Everyone", "prod/Everyone"]);
  });

  it("rejects a duplicate email (409) and invalid fields (400) with every field error", async () => {
    await newUser("dup@example.com");
    const dup = await api("POST", "/users", { body: { name: "Again", email: "DUP@example.com" } });
    expect(dup.status).toBe(409);
    expect(dup.json.errors).toEqual({ email: ["A user with this email already exists."] });
    const bad = await api("POST", "/users", { body: { name: "", email: "nope", environmentIds: "dev" } });
    expect(bad.status).toBe(400);
    expect(Object.keys(bad.json.errors).sort()).toEqual(["email", "environmentIds", "name"]);
    // A value Postgres cannot store (NUL: the lean server refuses it first over HTTP) is a 400 with the reason, not a 500.
    const nul = await api("GET", "/users?environment=%00");
    expect([nul.status, nul.json.detail]).toEqual([400, "A value contains a character that cannot be stored (NUL, U+0000, or invalid UTF-8)."]);
  });

  it("refuses writes with a read token and outside a scoped token's environments (403 with the reason)", async () => {
    const read = await api("POST", "/users", { token: tokens.read, body: { name: "R", email: "r@example.com" } });
    expect(read.status).toBe(403);
    expect(read.json.detail).toBe("This API token is read-only.");
    const scoped = await api("POST", "/users", { token: tokens.devWrite, body: { name: "S", email: "s@example.com", environmentIds: [env.prod.id] } });
    expect(scoped.status).toBe(403);
    expect(scoped.json.detail).toBe("This change touches an environment outside your scope.");
    const inScope = await api("POST", "/users", { token: tokens.devWrite, body: { name: "S", email: "s@example.com", environmentIds: [env.dev.id] } });
    expect(inScope.status).toBe(201);
    const list = await api("GET", "/users?environment=prod", { token: tokens.devWrite });
    expect(list.status).toBe(403);
    const unscoped = await api("GET", "/users", { token: tokens.devWrite });
    expect(unscoped.status).toBe(403);
    expect(unscoped.json.detail).toBe("This API token is scoped to environments: pass ?environment=<key> of one of them.");
  });

  it("refuses a scoped token a group filter of an environment outside its scope (it would read that group's membership)", async () => {
    const prodGroup = await api("POST", "/groups", { body: { environment: "prod", name: "Prod On-call" } });
    expect(prodGroup.status).toBe(201);
    const both = await newUser("dev.and.prod@example.com", [env.dev.id, env.prod.id]);
    expect((await api("POST", `/groups/${prodGroup.json.id}/members`, { body: { userIds: [both.id] } })).status).toBe(200);
    const probe = await api("GET", `/users?environment=dev&group=${prodGroup.json.id}`, { token: tokens.devWrite });
    expect(probe.status).toBe(403);
    expect(probe.json.detail).toBe("This reads an environment outside your scope.");
    const devGroup = await api("POST", "/groups", { body: { environment: "dev", name: "Dev On-call" } });
    expect((await api("POST", `/groups/${devGroup.json.id}/members`, { body: { userIds: [both.id] } })).status).toBe(200);
    const own = await api("GET", `/users?environment=dev&group=${devGroup.json.id}`, { token: tokens.devWrite });
    expect(own.status).toBe(200);
    expect(own.json.data.map((u: { email: string }) => u.email)).toEqual(["dev.and.prod@example.com"]);
  });

  it("lists with filters and cursors, and rejects bad query parameters", async () => {
    for (let i = 0; i < 5; i++) await newUser(`pager${i}@example.com`, [env.test.id]);
    const first = await api("GET", "/users?environment=test&limit=2&sort=email&dir=asc", { token: tokens.read });
    expect(first.status).toBe(200);
    expect(first.json.data.map((u: { email: string }) => u.email)).toEqual(["pager0@example.com", "pager1@example.com"]);
    expect(first.json.total).toEqual({ value: 5, exact: true });
    const second = await api("GET", `/users?environment=test&limit=2&sort=email&dir=asc&cursor=${first.json.nextCursor}`, { token: tokens.read });
    expect(second.json.data.map((u: { email: string }) => u.email)).toEqual(["pager2@example.com", "pager3@example.com"]);
    const search = await api("GET", "/users?q=pager4", { token: tokens.read });
    expect(search.json.data).toHaveLength(1);
    const bad = await api("GET", "/users?status=sleeping&limit=0", { token: tokens.read });
    expect(bad.status).toBe(400);
    expect(bad.json.errors.status).toEqual(["Unknown value “sleeping”; use invited, active, suspended, deprovisioned."]);
    expect(bad.json.errors.limit).toHaveLength(1);
    expect((await api("GET", "/users?cursor=garbage", { token: tokens.read })).json.errors).toEqual({ cursor: ["Not a valid cursor."] });
    expect((await api("GET", "/users?environment=nowhere", { token: tokens.read })).status).toBe(404);
  });

  it("reads, updates with If-Match, suspends, reactivates and deletes", async () => {
    const u = await newUser("life@example.com");
    const got = await api("GET", `/users/${u.id}`, { token: tokens.read });
    expect(got.headers.get("etag")).toBe('W/"1"');
    expect((await api("PATCH", `/users/${u.id}`, { body: { name: "Stale" }, headers: { "if-match": 'W/"9"' } })).status).toBe(412);
    expect((await api("PATCH", `/users/${u.id}`, { body: { name: "Bad" }, headers: { "if-match": "yesterday" } })).status).toBe(400);
    // As on every other resource: a tag that is no version matches nothing (it was a 400 here only).
    // W/"0" and W/"01" too: they were a 400 naming a field the client never sent (expectedVersion), and a version of ours.
    for (const tag of ['W/"-1"', 'W/"1.5"', 'W/""', 'W/"0"', 'W/"01"']) expect([tag, (await api("PATCH", `/users/${u.id}`, { body: { name: "Bad" }, headers: { "if-match": tag } })).status]).toEqual([tag, 412]);
    const patched = await api("PATCH", `/users/${u.id}`, { body: { name: "Life Renamed" }, headers: { "if-match": 'W/"1"' } });
    expect(patched.status).toBe(200);
    expect(patched.json.name).toBe("Life Renamed");
    expect(patched.headers.get("etag")).toBe('W/"2"');
    expect((await api("POST", `/users/${u.id}/suspend`)).json.status).toBe("suspended");
    expect((await api("POST", `/users/${u.id}/reactivate`)).json.status).toBe("active");
    expect((await api("DELETE", `/users/${u.id}`)).status).toBe(204);
    expect((await api("GET", `/users/${u.id}`)).status).toBe(404);
    expect((await api("GET", "/users/not-a-uuid")).status).toBe(404);
    expect((await api("DELETE", `/users/${crypto.randomUUID()}`)).json.detail).toBe("User not found.");
  });

  it("grants and revokes environments by key", async () => {
    const u = await newUser("envs@example.com");
    expect((await api("PUT", `/users/${u.id}/environments/test`)).json).toEqual({ changed: true });
    expect((await api("PUT", `/users/${u.id}/environments/test`)).json).toEqual({ changed: false });
    expect((await api("DELETE", `/users/${u.id}/environments/test`)).json).toEqual({ changed: true });
    const unknown = await api("PUT", `/users/${u.id}/environments/staging`);
    expect(unknown.status).toBe(404);
    expect(unknown.json.detail).toBe("No environment “staging”.");
  });
});

describe("groups and members", () => {
  it("creates, lists, renames, fills, empties and deletes a group", async () => {
    const created = await api("POST", "/groups", { body: { environment: "prod", name: "Platform", description: "People who run it" } });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ environment: "prod", name: "Platform", memberCount: 0, source: "manual" });
    expect((await api("POST", "/groups", { body: { environment: "prod", name: "platform" } })).status).toBe(409);
    expect((await api("POST", "/groups", { body: { environment: "nowhere", name: "X" } })).json).toMatchObject({ status: 404, detail: "No environment “nowhere”." });
    expect((await api("POST", "/groups", { body: { name: "X" } })).json.errors).toEqual({ environment: ["Name the environment (its key)."] });

    const list = await api("GET", "/groups?environment=prod&limit=1", { token: tokens.read });
    expect(list.json.data[0].name).toBe("Everyone");
    const next = await api("GET", `/groups?environment=prod&limit=1&cursor=${list.json.nextCursor}`, { token: tokens.read });
    expect(next.json.data[0].name).toBe("Platform");
    // A cursor this list did not give out is refused, as /users does (any text decodes as base64url: one was read as a name).
    for (const cursor of ["WyJ4IiwieSJd", "_w", "4oCo", Buffer.from("platform").toString("base64url")]) {
      const refused = await api("GET", `/groups?environment=prod&limit=1&cursor=${cursor}`, { token: tokens.read });
      expect([cursor, refused.status, refused.json.errors]).toEqual([cursor, 400, { cursor: ["Not a valid cursor."] }]);
    }
    expect((await api("GET", "/groups", { token: tokens.read })).status).toBe(400);

    const id = created.json.id as string;
    expect((await api("PATCH", `/groups/${id}`, { body: { name: "Platform Team" } })).json.name).toBe("Platform Team");
    const a = await newUser("member.a@example.com", [env.prod.id]);
    const b = await newUser("member.b@example.com", [env.prod.id]);
    const outsider = await newUser("member.c@example.com", [env.dev.id]);
    const added = await api("POST", `/groups/${id}/members`, { body: { userIds: [a.id, b.id, outsider.id] } });
    expect(added.json.changed.sort()).toEqual([a.id, b.id].sort());
    expect(added.json.failed).toEqual([{ userId: outsider.id, reason: "No access to the prod environment." }]);
    const members = await api("GET", `/groups/${id}/members?sort=email&dir=asc`, { token: tokens.read });
    expect(members.json.data.map((u: { email: string }) => u.email)).toEqual(["member.a@example.com", "member.b@example.com"]);
    const removed = await api("POST", `/groups/${id}/members/remove`, { body: { userIds: [a.id] } });
    expect(removed.json.changed).toEqual([a.id]);
    expect((await api("GET", `/groups/${id}`)).json.memberCount).toBe(1);
    expect((await api("POST", `/groups/${id}/members`, { body: { userIds: [] } })).status).toBe(400);
    expect((await api("DELETE", `/groups/${id}`)).status).toBe(204);
    expect((await api("GET", `/groups/${id}`)).status).toBe(404);

    const everyone = list.json.data[0].id as string;
    const refused = await api("DELETE", `/groups/${everyone}`);
    expect(refused.status).toBe(400);
    expect(refused.json.detail).toBe("Everyone cannot be deleted.");
  });

  it("audits API writes with the token as actor", async () => {
    const [row] = await getDb().execute<{ actor_type: string; actor_label: string }>(
      sql`select actor_type, actor_label from audit_events where action = 'group.create' order by id desc limit 1`,
    );
    expect(row).toEqual({ actor_type: "api_token", actor_label: "API token writer" });
  });
});

describe("access requests", () => {
  it("lists an environment's requests and approves or denies them, refusing with the reason", async () => {
    const { createResource } = await import("@/lib/access/resources");
    const { createUser } = await import("@/lib/users");
    const { requestAccess } = await import("@/lib/access-requests");
    const server = await createResource(await realMemberCtx("owner"), { environmentId: env.dev.id, feature: "mcp", name: "API identity server" });
    const user = await createUser(await realMemberCtx("owner"), { name: "Req", email: "requester@example.com", environmentIds: [env.dev.id] });
    const asUser = { actor: { type: "end_user" as const, id: user.id, label: user.email, environmentIds: [env.dev.id] } };
    const { request: one } = await requestAccess(asUser, { environmentId: env.dev.id, userId: user.id, resourceId: server.id, tool: "my_access", reason: "to see my access" });
    const { request: two } = await requestAccess(asUser, { environmentId: env.dev.id, userId: user.id, resourceId: server.id, reason: "everything" });

    const list = await api("GET", "/access-requests?environment=dev&status=pending", { token: tokens.read });
    expect(list.status).toBe(200);
    expect(list.json.data.map((r: { id: string }) => r.id).sort()).toEqual([one.id, two.id].sort());
    expect(list.json.data.find((r: { id: string }) => r.id === one.id)).toMatchObject({ environment: "dev", user: { email: "requester@example.com" }, resource: { name: "API identity server" }, tool: "my_access", status: "pending" });
    expect((await api("GET", "/access-requests?environment=nope")).status).toBe(404);

    const readOnly = await api("POST", `/access-requests/${one.id}/decision`, { token: tokens.read, body: { decision: "approve" } });
    expect(readOnly.status).toBe(403);
    expect(readOnly.json.detail).toBe("This API token is read-only.");
    const noComment = await api("POST", `/access-requests/${two.id}/decision`, { body: { decision: "deny" } });
    expect(noComment.status).toBe(400);
    expect(noComment.json.errors).toEqual({ comment: ["Say why the request is denied: the user sees it."] });
    const badDecision = await api("POST", `/access-requests/${two.id}/decision`, { body: { decision: "maybe" } });
    expect(badDecision.status).toBe(400);
    expect((await api("POST", `/access-requests/${crypto.randomUUID()}/decision`, { body: { decision: "approve" } })).status).toBe(404);

    const approved = await api("POST", `/access-requests/${one.id}/decision`, { token: tokens.devWrite, body: { decision: "approve" } });
    expect(approved.status).toBe(200);
    expect(approved.json).toMatchObject({ id: one.id, status: "approved", tool: "my_access", grantId: expect.any(String) });
    const denied = await api("POST", `/access-requests/${two.id}/decision`, { body: { decision: "deny", comment: "one tool is enough" } });
    expect(denied.json).toMatchObject({ status: "denied", comment: "one tool is enough", grantId: null });
    const again = await api("POST", `/access-requests/${one.id}/decision`, { body: { decision: "deny", comment: "no" } });
    expect(again.status).toBe(409);
    expect(again.json.detail).toBe("This request was already approved.");

    // The decision endpoint decides one tool: granted for my_access only.
    const authz = await createApiToken(await realMemberCtx("owner"), { name: "checker", scope: "authz" });
    const check = (tool?: string) => api("POST", "/authz/check", { token: authz.token, body: { subject: user.id, environment: "dev", feature: "mcp", resource: server.id, ...(tool ? { tool } : {}) } });
    expect((await check("my_access")).json.decisions[0]).toMatchObject({ allow: true, grant: { tool: "my_access" } });
    expect((await check("whoami")).json.decisions[0]).toMatchObject({ allow: false, reason: "no_grant" });
    expect((await check()).json.decisions[0]).toMatchObject({ allow: false, reason: "no_grant" });
    const toolOnGenie = await api("POST", "/authz/check", { token: authz.token, body: { subject: user.id, environment: "dev", feature: "agent_studio", tool: "whoami" } });
    expect(toolOnGenie.status).toBe(400);
    expect(toolOnGenie.json.errors).toEqual({ tool: ["A tool is decided only for an MCP server."] });
  });
});

describe("OpenAPI", () => {
  it("is a valid OpenAPI 3.1 document describing every endpoint", async () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, unknown>> };
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
    for (const e of ENDPOINTS) expect(doc.paths[e.path]?.[e.method.toLowerCase()]).toBeDefined();
  });
});

describe("the recorded answers match the served OpenAPI document", () => {
  it("validates every answer recorded above against its operation's response schema", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded, { skipUnknownPaths: true });
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});
