import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { eq, sql } from "drizzle-orm";
import { decodeJwt, exportJWK, SignJWT } from "jose";
import { getDb } from "@/db/client";
import { signingKeys, type Environment } from "@/db/schema";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { malformedTokens } from "@/test-support/malformed-tokens";
import { serveApp } from "@/lib/doors/server";
import { parseTrustProxy } from "@/lib/doors/server/client-address";
import { resetVerifierCache } from "@/lib/tokens/verify";
import { checkRemote } from "@iam-console/runtime";
import { serve } from "@/test-support/serve";
import { addGrants, listGrants, removeGrant } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { handleApiRequest } from "@/lib/doors/rest/handler";
import { createApiToken } from "@/lib/api-tokens";
import { createEndUserSession, readEndUserSession } from "@/lib/end-user/sessions";
import { addMembers, createGroup } from "@/lib/groups";
import { mcpServerUrl, mintAccessToken } from "@/lib/tokens/mint";
import { createUser } from "@/lib/users";
import { handleGenieMessage } from "./genie";
import { handleMcp } from "./mcp";

let env: { dev: Environment; test: Environment; prod: Environment };
let server: Awaited<ReturnType<typeof serve>>;
let genie: { id: string };
let mcp: { id: string };
let secret: { id: string };
let toolOnly: Awaited<ReturnType<typeof signedIn>>;
let granted: { id: string; email: string };
let grantedToken: (aud: string) => Promise<string>;
let ungrantedToken: (aud: string) => Promise<string>;

async function signedIn(email: string, environment: Environment) {
  const user = await createUser(systemCtx, { name: email.split("@")[0]!, email, environmentIds: [env.dev.id, env.prod.id] });
  const { token } = await createEndUserSession(getDb(), { userId: user.id, environmentId: environment.id, method: "password" });
  const s = (await readEndUserSession(environment.key, token))!;
  return { user, mint: async (aud: string) => (await mintAccessToken(s, aud)).token };
}

beforeAll(async () => {
  env = await createEnvironments();
  genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Travel genie" });
  mcp = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Tickets" });
  const team = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Travel team" });
  const a = await signedIn("granted@example.com", env.prod);
  const b = await signedIn("ungranted@example.com", env.prod);
  secret = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Secret genie" });
  toolOnly = await signedIn("tool-only@example.com", env.prod);
  granted = a.user;
  grantedToken = a.mint;
  ungrantedToken = b.mint;
  await addMembers(systemCtx, { groupId: team.id, userIds: [a.user.id] });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [team.id] });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: mcp.id, groupIds: [team.id] });
  server = await serve(async (request) => {
    const path = new URL(request.url).pathname;
    const m = /^\/mcp\/([^/]+)$/.exec(path);
    if (m) return handleMcp(request, m[1]!);
    return new Response("not found", { status: 404 });
  });
});
afterAll(() => server.close());

describe("the decision endpoint POST /api/v1/authz/check", () => {
  const call = (apiToken: string, body: unknown) =>
    handleApiRequest(new Request("http://localhost/api/v1/authz/check", { method: "POST", headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" }, body: JSON.stringify(body) }), "POST");

  it("decides by token or subject, single or batch, with the reason, grant and group", async () => {
    const { token: apiToken } = await createApiToken(systemCtx, { name: "genie component", scope: "authz", environmentIds: [env.prod.id] });
    const byToken = await call(apiToken, { token: await grantedToken("agent_studio"), environment: "prod", feature: "agent_studio", resource: genie.id });
    expect(byToken.status).toBe(200);
    const body = await byToken.json();
    expect(body.subject).toEqual({ id: granted.id, email: "granted@example.com" });
    expect(body.decisions).toEqual([
      expect.objectContaining({ resource: genie.id, allow: true, reason: "granted", group: expect.objectContaining({ name: "Travel team" }), grant: expect.objectContaining({ resourceId: genie.id }) }),
    ]);
    const other = crypto.randomUUID();
    const batch = await (await call(apiToken, { subject: "ungranted@example.com", environment: "prod", feature: "agent_studio", resources: [genie.id, other, null] })).json();
    expect(batch.decisions.map((d: { reason: string }) => d.reason)).toEqual(["no_grant", "resource_not_found", "no_grant"]);
    // A DEV token against PROD fails verification: 401 with the reason (the denials beside it).
    const dev = await signedIn("devonly@example.com", env.dev);
    const wrongEnvRes = await call(apiToken, { token: await dev.mint("agent_studio"), environment: "prod", feature: "agent_studio", resource: genie.id });
    const wrongEnv = await wrongEnvRes.json();
    expect([wrongEnvRes.status, wrongEnvRes.headers.get("content-type"), wrongEnv.code]).toEqual([401, "application/problem+json", "wrong_environment"]);
    expect(wrongEnv.decisions[0]).toMatchObject({ allow: false, reason: "wrong_environment" });
  });

  it("refuses bad input with the reason, other scopes' environments, and non-authz tokens' writes stay as they were", async () => {
    const { token: apiToken } = await createApiToken(systemCtx, { name: "dev component", scope: "authz", environmentIds: [env.dev.id] });
    const outside = await call(apiToken, { subject: "granted@example.com", environment: "prod", feature: "mcp" });
    expect(outside.status).toBe(403);
    expect((await outside.json()).detail).toBe("This reads an environment outside your scope.");
    const both = await call(apiToken, { subject: "x@example.com", token: "t", environment: "dev", feature: "mcp" });
    expect(both.status).toBe(400);
    expect((await both.json()).errors.token).toEqual(["Send either token or subject."]);
    const feature = await call(apiToken, { subject: "x@example.com", environment: "dev", feature: "email" });
    expect(feature.status).toBe(400);
    expect((await feature.json()).errors.feature).toBeDefined();
    const users = await handleApiRequest(new Request("http://localhost/api/v1/users?environment=dev", { headers: { authorization: `Bearer ${apiToken}` } }), "GET");
    expect(users.status).toBe(403);
    expect((await users.json()).detail).toBe("This API token may only ask the decision endpoint.");
  });
});

describe("the genie endpoint", () => {
  const send = (token: string | null, body: unknown = { message: "Book me a flight" }, id = genie.id) =>
    handleGenieMessage(new Request(`http://localhost/api/genies/${id}/messages`, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) }), id);

  it("answers a granted user, refuses others with the reason, and audits both", async () => {
    const ok = await send(await grantedToken("agent_studio"));
    expect(ok.status).toBe(200);
    const reply = await ok.json();
    expect(reply.reply).toMatch(/^Travel genie here/);
    expect(reply.allowedBy).toMatchObject({ reason: "granted", group: { name: "Travel team" } });
    const denied = await send(await ungrantedToken("agent_studio"));
    expect(denied.status).toBe(403);
    expect(await denied.json()).toEqual({ error: "access_denied", reason: "no_grant", message: "Neither the user nor any of their groups has a grant for this feature or resource." });
    const none = await send(null);
    expect(none.status).toBe(401);
    expect((await none.json()).reason).toBe("missing_token");
    const wrongAud = await send(await grantedToken("workato_go"));
    expect((await wrongAud.json()).reason).toBe("wrong_audience");
    const empty = await send(await grantedToken("agent_studio"), { message: "" });
    expect(empty.status).toBe(400);
    expect((await empty.json()).message).toBe("Write a message.");
    const missing = await send(await grantedToken("agent_studio"), { message: "hi" }, crypto.randomUUID());
    expect(missing.status).toBe(404);
    const rows = await getDb().execute<{ action: string; outcome: string; reason: string | null }>(sql`select action, outcome, reason from audit_events where action like 'agent_studio.%' order by id`);
    expect(rows.map((r) => `${r.action}:${r.outcome}:${r.reason ?? ""}`)).toEqual([
      "agent_studio.message:success:",
      "agent_studio.access:denied:no_grant",
      "agent_studio.access:denied:missing_token",
      "agent_studio.access:denied:wrong_audience",
    ]);
  });

  it("refuses the next message once the group's grant is removed", async () => {
    const token = await grantedToken("agent_studio");
    expect((await send(token)).status).toBe(200);
    const [grant] = await listGrants({ environmentId: env.prod.id, resourceId: genie.id });
    await removeGrant(systemCtx, grant!.id);
    const after = await send(token);
    expect(after.status).toBe(403);
    expect((await after.json()).reason).toBe("no_grant");
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [grant!.subject.id] });
  });
});

describe("an MCP server per MCP resource", () => {
  const url = () => `${server.url}/mcp/${mcp.id}`;

  const connect = async (token: string) => {
    const client = new Client({ name: "vitest", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(new URL(url()), { requestInit: { headers: { authorization: `Bearer ${token}` } } }));
    return client;
  };
  const json = (result: Awaited<ReturnType<Client["callTool"]>>) => JSON.parse((result.content as { text: string }[])[0]!.text);

  it("lets the SDK's own client list and call every tool with a grant on the whole server", async () => {
    const client = await connect(await grantedToken(mcpServerUrl(mcp.id)));
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(["whoami", "my_groups", "my_access", "request_access"]);
    expect(tools.find((t) => t.name === "request_access")!.inputSchema).toMatchObject({ type: "object", required: ["resource", "reason"] });
    expect(json(await client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({ sub: granted.id, email: "granted@example.com", env: "prod" });
    expect(json(await client.callTool({ name: "my_groups", arguments: {} }))).toEqual([
      { name: "Everyone", source: "system" },
      { name: "Travel team", source: "manual" },
    ]);
    // What I may use, and why: the path through the group.
    const access = json(await client.callTool({ name: "my_access", arguments: {} }));
    expect(access.allowed).toEqual([
      { resource: "Travel genie", feature: "Agent Studio", allow: true, reason: "granted", why: "user granted@example.com → member of group Travel team → grant on “Travel genie”" },
      { resource: "Tickets", feature: "MCP servers", allow: true, reason: "granted", why: "user granted@example.com → member of group Travel team → grant on “Tickets”" },
    ]);
    const one = json(await client.callTool({ name: "my_access", arguments: { resource: "Secret genie" } }));
    expect(one).toMatchObject({ resource: "Secret genie", allow: false, reason: "no_grant" });
    await client.close();
  });

  it("request_access files one request per resource and tool, and says when access is already there", async () => {
    const client = await connect(await grantedToken(mcpServerUrl(mcp.id)));
    const first = json(await client.callTool({ name: "request_access", arguments: { resource: "Secret genie", reason: "I run the travel desk" } }));
    expect(first).toMatchObject({ status: "pending", message: "Requested. An admin of prod will approve or deny it." });
    const again = json(await client.callTool({ name: "request_access", arguments: { resource: secret.id, reason: "Again" } }));
    expect(again).toEqual({ request: first.request, status: "pending", message: "You already asked for this; the request is still open." });
    const already = await client.callTool({ name: "request_access", arguments: { resource: "Tickets", reason: "more" } });
    expect(already.isError).toBe(true);
    expect((already.content as { text: string }[])[0]!.text).toMatch(/^You may already use Tickets: user granted@example.com → member of group Travel team/);
    const unknown = await client.callTool({ name: "request_access", arguments: { resource: "Nope", reason: "x" } });
    expect((unknown.content as { text: string }[])[0]!.text).toBe("No resource “Nope” in this environment.");
    const noReason = await client.callTool({ name: "request_access", arguments: { resource: "Secret genie" } }).catch((e) => e);
    expect((noReason as Error).message).toMatch(/reason: /);
    expect(json(await client.callTool({ name: "my_access", arguments: {} })).requests).toEqual([{ resource: "Secret genie", tool: null, status: "pending", comment: null }]);
    await client.close();
  });

  it("guards each tool: a grant on one tool lists that tool only, and calling another answers the decision's reason", async () => {
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: mcp.id, userIds: [toolOnly.user.id], tool: "whoami" });
    const client = await connect(await toolOnly.mint(mcpServerUrl(mcp.id)));
    expect((await client.listTools()).tools.map((t) => t.name)).toEqual(["whoami"]);
    expect(json(await client.callTool({ name: "whoami", arguments: {} }))).toMatchObject({ email: "tool-only@example.com" });
    const denied = await client.callTool({ name: "my_groups", arguments: {} }).catch((e) => e);
    expect(denied).toMatchObject({ code: -32600, data: { reason: "no_grant", tool: "my_groups" } });
    expect((denied as Error).message).toMatch(/Neither the user nor any of their groups has a grant/);
    const rows = await getDb().execute<{ outcome: string; reason: string | null; tool: string }>(
      sql`select outcome, reason, after->>'tool' as tool from audit_events where action = 'mcp.tool_call' and actor_label = 'tool-only@example.com' order by occurred_at, id`,
    );
    expect(rows.map((r) => `${r.tool}:${r.outcome}:${r.reason ?? ""}`)).toEqual(["whoami:success:", "my_groups:denied:no_grant"]);
    // The token lists no entitlement for a one-tool grant: offline verifiers cannot tell tools apart.
    expect(decodeJwt(await toolOnly.mint(mcpServerUrl(mcp.id))).entitlements).toEqual({});
    await client.close();
  });

  it("answers 401 with the RFC 9728 metadata link without a token, and 403 with the reason for an ungranted user", async () => {
    const init = { jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } };
    const post = (headers: Record<string, string>) => fetch(url(), { method: "POST", headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...headers }, body: JSON.stringify(init) });
    const anonymous = await post({});
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe(`Bearer resource_metadata="http://localhost:3000/.well-known/oauth-protected-resource/mcp/${mcp.id}"`);
    // Recorded as what it is: a caller without credentials (its own actor type), not the system.
    const [denial] = await getDb().execute<{ actor_type: string; actor_label: string; reason: string }>(
      sql`select actor_type, actor_label, reason from audit_events where action = 'mcp.access' and target_id = ${mcp.id} and outcome = 'denied' order by id desc limit 1`,
    );
    expect(denial).toEqual({ actor_type: "anonymous", actor_label: "anonymous (no valid token)", reason: "missing_token" });
    const forbidden = await post({ authorization: `Bearer ${await ungrantedToken(mcpServerUrl(mcp.id))}` });
    expect(forbidden.status).toBe(403);
    expect(await forbidden.json()).toMatchObject({ error: "access_denied", reason: "no_grant" });
    const wrongAudience = await post({ authorization: `Bearer ${await grantedToken("agent_studio")}` });
    expect(wrongAudience.status).toBe(401);
    expect(wrongAudience.headers.get("www-authenticate")).toMatch(/error="invalid_token", error_description="The token was issued for another audience\."/);
    // The SDK client, refused: its error carries the status and our reason.
    const client = new Client({ name: "vitest", version: "1.0.0" });
    const refused = await client.connect(new StreamableHTTPClientTransport(new URL(url()), { requestInit: { headers: { authorization: `Bearer ${await ungrantedToken(mcpServerUrl(mcp.id))}` } } })).catch((e) => e);
    expect((refused as { code?: number }).code).toBe(403);
    expect((refused as Error).message).toMatch(/"reason":"no_grant"/);
  });
});

describe("every door that takes an access token", () => {
  /** The three doors through the lean server (its route table, a real socket): status, reason, and the challenge. */
  async function doors(base: string, apiToken: string, token: string) {
    const bearer = { authorization: `Bearer ${token}` };
    const genieRes = await fetch(`${base}/api/genies/${genie.id}/messages`, { method: "POST", headers: { "content-type": "application/json", ...bearer }, body: JSON.stringify({ message: "hi" }) });
    const mcpRes = await fetch(`${base}/mcp/${mcp.id}`, {
      method: "POST",
      headers: { "content-type": "application/json", accept: "application/json, text/event-stream", ...bearer },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "initialize", params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "raw", version: "1" } } }),
    });
    // The decision endpoint: the API token is the caller's credential; the access token is the question.
    const checkRes = await fetch(`${base}/api/v1/authz/check`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${apiToken}` },
      body: JSON.stringify({ token, environment: "prod", feature: "agent_studio", resource: genie.id }),
    });
    const body = async (r: Response) => {
      const text = await r.text();
      try {
        return JSON.parse(text);
      } catch {
        return { unparsed: text };
      }
    };
    const [g, m, c] = [await body(genieRes), await body(mcpRes), await body(checkRes)];
    return {
      genie: `${genieRes.status} ${g.error}/${g.reason}`,
      mcp: `${mcpRes.status} ${m.error}/${m.reason} ${/error="invalid_token"/.test(mcpRes.headers.get("www-authenticate") ?? "") ? "challenged" : "no challenge"}`,
      check: `${checkRes.status} ${c.code}/${c.decisions?.[0]?.allow}/${c.decisions?.[0]?.reason}`,
    };
  }

  it("answers each malformed token 401 with its reason (the decision endpoint too, the denials beside it)", async () => {
    const server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
    try {
      const base = `http://127.0.0.1:${server.port}`;
      const { token: apiToken } = await createApiToken(systemCtx, { name: "malformed table", scope: "authz", environmentIds: [env.prod.id] });
      const table = await malformedTokens(await grantedToken("agent_studio"));
      const answers: Record<string, unknown> = {};
      const expected: Record<string, unknown> = {};
      for (const row of table) {
        answers[row.name] = await doors(base, apiToken, row.token);
        expected[row.name] = { genie: `401 invalid_token/${row.reason}`, mcp: `401 invalid_token/${row.reason} challenged`, check: `401 ${row.reason}/false/${row.reason}` };
      }
      expect(answers).toEqual(expected);
    } finally {
      await server.close(1000);
    }
  });

  it("checkRemote (@iam-console/runtime) turns the decision endpoint's 401 for a bad token into denials, and throws for a bad API token", async () => {
    const server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
    try {
      const endpoint = `http://127.0.0.1:${server.port}/api/v1/authz/check`;
      const { token: apiToken } = await createApiToken(systemCtx, { name: "remote checker", scope: "authz", environmentIds: [env.prod.id] });
      const question = { environment: "prod", feature: "agent_studio" as const, resources: [genie.id] };
      expect(await checkRemote(endpoint, apiToken, { ...question, token: await grantedToken("agent_studio") })).toEqual([expect.objectContaining({ allow: true, reason: "granted" })]);
      expect(await checkRemote(endpoint, apiToken, { ...question, token: "not.a.token" })).toEqual([expect.objectContaining({ allow: false, reason: "malformed_token" })]);
      await expect(checkRemote(endpoint, "iam_not-a-real-token", { ...question, token: await grantedToken("agent_studio") })).rejects.toThrow(/answered 401: The API token is unknown/);
    } finally {
      await server.close(1000);
    }
  });

  it("answers a token whose key in the published set cannot be used (off the curve) 401 bad_key", async () => {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const jwk = await exportJWK(ec.publicKey);
    const kid = "off-curve";
    // Published like a retired key still within its window, its point moved off the curve.
    await getDb().insert(signingKeys).values({ kid, algorithm: "ES256", state: "retired", publicJwk: { ...jwk, y: jwk.x, kid, alg: "ES256", use: "sig" }, privateKeyEncrypted: "", retiredAt: new Date(), publishUntil: new Date(Date.now() + 600_000) });
    resetVerifierCache();
    const server = await serveApp({ next: (_req, res) => void res.writeHead(404).end(), trustProxy: parseTrustProxy(""), port: 0, hostname: "127.0.0.1" });
    try {
      const { token: apiToken } = await createApiToken(systemCtx, { name: "bad key", scope: "authz", environmentIds: [env.prod.id] });
      const claims = { sub: granted.id, email: granted.email, name: "granted", env: "prod", aud: "prod:agent_studio", jti: crypto.randomUUID(), sid: crypto.randomUUID() };
      const token = await new SignJWT(claims).setProtectedHeader({ alg: "ES256", typ: "at+jwt", kid }).setIssuer("http://localhost:3000").setIssuedAt().setExpirationTime("5m").sign(ec.privateKey);
      expect(await doors(`http://127.0.0.1:${server.port}`, apiToken, token)).toEqual({ genie: "401 invalid_token/bad_key", mcp: "401 invalid_token/bad_key challenged", check: "401 bad_key/false/bad_key" });
    } finally {
      await server.close(1000);
      await getDb().delete(signingKeys).where(eq(signingKeys.kid, kid));
      resetVerifierCache();
    }
  });
});
