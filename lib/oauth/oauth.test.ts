import { createHash, randomBytes } from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import { decodeJwt, decodeProtectedHeader } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { getDb } from "@/db/client";
import { auditEvents, type Environment } from "@/db/schema";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { dispatchMachine } from "@/lib/doors/server/routes";
import { createEndUserSession, endEndUserSession, readEndUserSession, sessionCookieName, signOutEverywhere } from "@/lib/end-user/sessions";
import { createApiToken } from "@/lib/api-tokens";
import { handleApiRequest } from "@/lib/doors/rest/handler";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { holdInsertsInto } from "@/test-support/table-lock";
import { activeSigningKey, resetKeyCache, rotateSigningKeys } from "@/lib/tokens/keys";
import { mcpServerUrl } from "@/lib/tokens/mint";
import { createUser, suspendUser } from "@/lib/users";
import { createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { answerConsent, connectedApps, OTHER_BROWSER, revokeConsent } from "./consents";

// Each environment's OAuth authorization server (lib/oauth), through the lean server's routing (in
// process): discovery, dynamic registration, authorization code with PKCE and the consent, our
// access tokens for one MCP server, rotating refresh tokens, and every refusal with its reason.

const ORIGIN = "http://localhost:3000";
const REDIRECT = "http://127.0.0.1:33418/callback";
let env: { dev: Environment; test: Environment; prod: Environment };
let tickets: { id: string };
let other: { id: string };

const machine = async (url: string, init?: RequestInit) => (await dispatchMachine(new Request(url, init)))!;
const form = (body: Record<string, string>) => ({ method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: new URLSearchParams(body) });

/** A browser's cookie jar over the machine doors. */
function browser() {
  const jar = new Map<string, string>();
  return Object.assign(async (url: string) => {
    const response = await machine(url, { headers: jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join("; ") } : {} });
    for (const c of response.headers.getSetCookie()) {
      const [k, ...v] = c.split(";")[0]!.split("=");
      jar.set(k!.trim(), v.join("="));
    }
    return response;
  }, { interactionCookie: () => ({ value: jar.get("_interaction"), sig: jar.get("_interaction.sig") }), jar });
}

const pkce = () => {
  const verifier = randomBytes(32).toString("base64url");
  return { verifier, challenge: createHash("sha256").update(verifier).digest("base64url") };
};

async function metadata(envKey = "prod") {
  return (await machine(`${ORIGIN}/.well-known/oauth-authorization-server/e/${envKey}`)).json();
}

async function register(envKey = "prod", body: Record<string, unknown> = {}) {
  const meta = await metadata(envKey);
  return machine(meta.registration_endpoint, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ redirect_uris: [REDIRECT], client_name: "Test MCP client", token_endpoint_auth_method: "none", grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], ...body }),
  });
}

async function person(email: string) {
  const user = await createUser(systemCtx, { name: email.split("@")[0]!, email, environmentIds: [env.prod.id] });
  await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: tickets.id, userIds: [user.id] });
  const { token } = await createEndUserSession(getDb(), { userId: user.id, environmentId: env.prod.id, method: "password" });
  return { user, cookie: token, session: (await readEndUserSession("prod", token))! };
}

/** The whole authorization: the browser starts it, the user allows it, the app gets its code. */
async function authorize(clientId: string, who: Awaited<ReturnType<typeof person>>, options: { resource?: string; allow?: boolean } = {}) {
  const meta = await metadata();
  const b = browser();
  const { verifier, challenge } = pkce();
  const resource = options.resource ?? mcpServerUrl(tickets.id);
  const started = await b(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: "code", code_challenge: challenge, code_challenge_method: "S256", scope: "mcp", resource, state: "s1" })}`);
  expect(started.status, await started.clone().text()).toBe(303);
  const uid = started.headers.get("location")!.split("/").at(-1)!;
  expect(started.headers.get("location")).toBe(`/e/prod/apps/consent/${uid}`);
  const resumed = await b(await answerConsent(who.session, "prod", uid, options.allow ?? true, b.interactionCookie()));
  expect(resumed.status).toBe(303);
  const back = new URL(resumed.headers.get("location")!);
  return { back, code: back.searchParams.get("code"), verifier, resource };
}

async function exchange(clientId: string, code: string, verifier: string, resource: string) {
  const meta = await metadata();
  return machine(meta.token_endpoint, form({ grant_type: "authorization_code", code, code_verifier: verifier, redirect_uri: REDIRECT, client_id: clientId, resource }));
}

async function refresh(clientId: string, refreshToken: string) {
  const meta = await metadata();
  return machine(meta.token_endpoint, form({ grant_type: "refresh_token", refresh_token: refreshToken, client_id: clientId }));
}

const callMcp = (resource: string, accessToken: string) =>
  machine(resource, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json", accept: "application/json, text/event-stream" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
  });

async function lastAudit(action: string) {
  const [row] = await getDb().select().from(auditEvents).where(eq(auditEvents.action, action)).orderBy(desc(auditEvents.occurredAt)).limit(1);
  return row;
}

async function connectedClient() {
  // As the MCP SDK registers: with the scope the MCP server's metadata lists.
  const client = await (await register("prod", { scope: "mcp" })).json();
  return client.client_id as string;
}

beforeAll(async () => {
  env = await createEnvironments();
  tickets = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Tickets" });
  other = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Payroll" });
});

describe("discovery", () => {
  it("publishes RFC 8414 metadata per environment (path-inserted and under the issuer), and the MCP server's RFC 9728 metadata names it", async () => {
    const meta = await metadata();
    expect(meta).toMatchObject({
      issuer: `${ORIGIN}/e/prod`,
      authorization_endpoint: `${ORIGIN}/e/prod/oauth/authorize`,
      token_endpoint: `${ORIGIN}/e/prod/oauth/token`,
      registration_endpoint: `${ORIGIN}/e/prod/oauth/register`,
      revocation_endpoint: `${ORIGIN}/e/prod/oauth/revoke`,
      code_challenge_methods_supported: ["S256"],
      client_id_metadata_document_supported: true,
    });
    // OpenID discovery carries every field OpenID Connect Discovery 1.0 requires.
    const openid = await (await machine(`${ORIGIN}/e/prod/.well-known/openid-configuration`)).json();
    expect(openid.issuer).toBe(`${ORIGIN}/e/prod`);
    for (const field of ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"]) {
      expect([field, openid[field] !== undefined]).toEqual([field, true]);
    }
    // Its keys are ours: the console's JWKS publishes the key that signs.
    const own = await (await machine(openid.jwks_uri)).json();
    const published = await (await machine(`${ORIGIN}/.well-known/jwks.json`)).json();
    expect(published.keys.map((k: { kid: string }) => k.kid)).toContain(own.keys[0].kid);
    expect((await metadata("dev")).issuer).toBe(`${ORIGIN}/e/dev`);
    const resourceMeta = await (await machine(`${ORIGIN}/.well-known/oauth-protected-resource/mcp/${tickets.id}`)).json();
    expect(resourceMeta).toMatchObject({ resource: mcpServerUrl(tickets.id), authorization_servers: [`${ORIGIN}/e/prod`], scopes_supported: ["mcp"] });
    const unknown = await machine(`${ORIGIN}/.well-known/oauth-authorization-server/e/nowhere`);
    expect([unknown.status, (await unknown.json()).detail]).toEqual([404, "No environment “nowhere”."]);
  });
});

describe("a client signs a user in and calls the MCP server", () => {
  it("issues our at+jwt for the one MCP server, with our claims; a refresh rotates; consent is remembered and listed; all audited", async () => {
    const who = await person("oona@example.com");
    const clientId = await connectedClient();
    expect(await lastAudit("oauth.client_register")).toMatchObject({ targetLabel: `Test MCP client (${clientId})` });
    const { back, code, verifier, resource } = await authorize(clientId, who);
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get("state")).toBe("s1");
    const answer = await exchange(clientId, code!, verifier, resource);
    const tokens = await answer.json();
    expect(answer.status, JSON.stringify(tokens)).toBe(200);
    expect(decodeProtectedHeader(tokens.access_token).typ).toBe("at+jwt");
    const claims = decodeJwt(tokens.access_token);
    expect(claims).toMatchObject({ iss: ORIGIN, aud: resource, sub: who.user.id, env: "prod", email: "oona@example.com", client_id: clientId, scope: "mcp" });
    const tools = await callMcp(resource, tokens.access_token);
    expect(tools.status).toBe(200);
    expect((await tools.json()).result.tools.length).toBeGreaterThan(0);
    expect(await lastAudit("oauth.token_issue")).toMatchObject({ actorId: who.user.id, outcome: "success", after: expect.objectContaining({ grantType: "authorization_code", refreshable: true }) });

    const rotated = await (await refresh(clientId, tokens.refresh_token)).json();
    expect(rotated.refresh_token).toBeTruthy();
    expect(rotated.refresh_token).not.toBe(tokens.refresh_token);
    expect((await callMcp(resource, rotated.access_token)).status).toBe(200);

    // Remembered: the next authorization of the same app and server needs no new consent (no new grant).
    const apps = await connectedApps(env.prod.id, who.user.id);
    expect(apps.map((a) => [a.clientName, a.server.name])).toEqual([["Test MCP client", "Tickets"]]);
    const again = await authorize(clientId, who);
    expect(again.code).toBeTruthy();
    expect(await connectedApps(env.prod.id, who.user.id)).toHaveLength(1);
  });

  it("a consent link opened in another browser is refused: a code for the victim cannot reach the browser that started it", async () => {
    const victim = await person("vic@example.com");
    const clientId = await connectedClient();
    const meta = await metadata();
    const attacker = browser();
    const started = await attacker(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: "code", code_challenge: pkce().challenge, code_challenge_method: "S256", scope: "mcp", resource: mcpServerUrl(tickets.id) })}`);
    const uid = started.headers.get("location")!.split("/").at(-1)!;
    // The victim's browser has no interaction cookie, or a forged one.
    await expect(answerConsent(victim.session, "prod", uid, true, {})).rejects.toThrow(OTHER_BROWSER);
    await expect(answerConsent(victim.session, "prod", uid, true, { value: uid, sig: "forged" })).rejects.toThrow(OTHER_BROWSER);
    // Nothing was decided: the attacker's browser is sent to a consent page again, with no code.
    const resumed = await attacker(`${meta.authorization_endpoint}/${uid}`);
    expect(resumed.headers.get("location")).toMatch(/^\/e\/prod\/apps\/consent\/[A-Za-z0-9_-]+$/);
    expect(await connectedApps(env.prod.id, victim.user.id)).toEqual([]);
  });

  it("a denial answers the app access_denied, and nothing is granted", async () => {
    const who = await person("dee@example.com");
    const clientId = await connectedClient();
    const { back } = await authorize(clientId, who, { allow: false });
    expect(back.searchParams.get("error")).toBe("access_denied");
    expect(back.searchParams.get("error_description")).toBe("dee@example.com did not allow Test MCP client to use Tickets.");
    expect(await connectedApps(env.prod.id, who.user.id)).toEqual([]);
  });
});

describe("refusals, each with its reason", () => {
  it("registration: redirect URIs must be https or loopback", async () => {
    const answer = await register("prod", { redirect_uris: ["http://evil.example/callback"] });
    expect(answer.status).toBe(400);
    expect(await answer.json()).toEqual({
      error: "invalid_redirect_uri",
      error_description: "http://evil.example/callback is neither https nor a loopback address. Redirect URIs must be https or loopback (127.0.0.1, [::1], localhost).",
    });
  });

  it("registration: a flood from one address is cut with the reason", async () => {
    const { REGISTRATIONS_PER_HOUR } = await import("@/lib/doors/oauth/handler");
    const meta = await metadata("dev");
    const post = () =>
      machine(meta.registration_endpoint, { method: "POST", headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.7" }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: "none" }) });
    for (let i = 0; i < REGISTRATIONS_PER_HOUR; i++) expect((await post()).status).toBe(201);
    const cut = await post();
    expect(cut.status).toBe(429);
    expect((await cut.json()).error_description).toMatch(/^Too many client registrations from this address; retry in \d+ s\.$/);
  });

  it("authorization: several MCP servers at once are refused on the consent screen", async () => {
    const who = await person("sam.scope@example.com");
    const clientId = await connectedClient();
    const meta = await metadata();
    const base = { client_id: clientId, response_type: "code", redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: "S256" };
    const b = browser();
    const params = new URLSearchParams({ ...base, scope: "mcp" });
    params.append("resource", mcpServerUrl(tickets.id));
    params.append("resource", mcpServerUrl(other.id));
    const started = await b(`${meta.authorization_endpoint}?${params}`);
    const uid = started.headers.get("location")!.split("/").at(-1)!;
    await expect(answerConsent(who.session, "prod", uid, true, b.interactionCookie())).rejects.toThrow("The app asked for several MCP servers at once; it may ask for one at a time.");
  });

  it("authorization: an unregistered redirect URI, no PKCE, or plain PKCE", async () => {
    const clientId = await connectedClient();
    const meta = await metadata();
    const base = { client_id: clientId, response_type: "code", scope: "mcp", resource: mcpServerUrl(tickets.id) };
    const unregistered = await machine(`${meta.authorization_endpoint}?${new URLSearchParams({ ...base, redirect_uri: "http://127.0.0.1:9/other", code_challenge: pkce().challenge, code_challenge_method: "S256" })}`);
    expect(unregistered.status).toBe(400);
    expect(await unregistered.text()).toContain("invalid_redirect_uri: redirect_uri did not match any of the client&#39;s registered redirect_uris");
    const noPkce = await machine(`${meta.authorization_endpoint}?${new URLSearchParams({ ...base, redirect_uri: REDIRECT })}`);
    const noPkceBack = new URL(noPkce.headers.get("location")!);
    expect([noPkceBack.searchParams.get("error"), noPkceBack.searchParams.get("error_description")]).toEqual(["invalid_request", "Authorization Server policy requires PKCE to be used for this request"]);
    const plain = await machine(`${meta.authorization_endpoint}?${new URLSearchParams({ ...base, redirect_uri: REDIRECT, code_challenge: "a".repeat(43), code_challenge_method: "plain" })}`);
    const plainBack = new URL(plain.headers.get("location")!);
    expect([plainBack.searchParams.get("error"), plainBack.searchParams.get("error_description")]).toEqual(["invalid_request", "not supported value of code_challenge_method"]);
  });

  it("token: a code used twice, a code of another client, a wrong verifier", async () => {
    const who = await person("cody@example.com");
    const clientId = await connectedClient();
    const otherClient = await connectedClient();
    const first = await authorize(clientId, who);
    expect((await exchange(clientId, first.code!, first.verifier, first.resource)).status).toBe(200);
    const twice = await exchange(clientId, first.code!, first.verifier, first.resource);
    expect([twice.status, await twice.json()]).toEqual([400, { error: "invalid_grant", error_description: "grant request is invalid" }]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (authorization code already consumed)");

    const second = await authorize(clientId, who);
    const stolen = await exchange(otherClient, second.code!, second.verifier, second.resource);
    expect([stolen.status, (await stolen.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (client mismatch)");

    const third = await authorize(clientId, who);
    const wrongVerifier = await exchange(clientId, third.code!, pkce().verifier, third.resource);
    expect([wrongVerifier.status, (await wrongVerifier.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (code_verifier does not match code_challenge)");
  });

  it("a token for one MCP server is refused by another; a resource that is not an MCP server here is refused", async () => {
    const who = await person("ria@example.com");
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: other.id, userIds: [who.user.id] });
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const tokens = await (await exchange(clientId, code!, verifier, resource)).json();
    const elsewhere = await callMcp(mcpServerUrl(other.id), tokens.access_token);
    expect([elsewhere.status, (await elsewhere.json()).reason]).toEqual([401, "wrong_audience"]);

    const meta = await metadata();
    const foreign = await machine(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id: clientId, response_type: "code", scope: "mcp", redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: "S256", resource: "https://evil.example/mcp" })}`);
    const foreignBack = new URL(foreign.headers.get("location")!);
    expect([foreignBack.searchParams.get("error"), foreignBack.searchParams.get("error_description")]).toEqual(["invalid_target", "https://evil.example/mcp is not an MCP server of PROD."]);
  });

  it("RFC 7009: the client revokes its refresh token; the grant's tokens stop", async () => {
    const who = await person("reva@example.com");
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const tokens = await (await exchange(clientId, code!, verifier, resource)).json();
    const meta = await metadata();
    const revoked = await machine(meta.revocation_endpoint, form({ token: tokens.refresh_token, token_type_hint: "refresh_token", client_id: clientId }));
    expect(revoked.status).toBe(200);
    const after = await refresh(clientId, tokens.refresh_token);
    expect([after.status, (await after.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (refresh token not found)");
  });

  it("a refresh token used after rotation is refused and revokes its whole family", async () => {
    const who = await person("rory@example.com");
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const first = await (await exchange(clientId, code!, verifier, resource)).json();
    const second = await (await refresh(clientId, first.refresh_token)).json();
    const replay = await refresh(clientId, first.refresh_token);
    expect([replay.status, (await replay.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (refresh token already used)");
    // The family: the rotated token is dead too.
    const family = await refresh(clientId, second.refresh_token);
    expect([family.status, (await family.json()).error]).toEqual([400, "invalid_grant"]);
  });

  it("two refreshes with one refresh token at the same moment: one is answered, the other refused as a replay, and the grant ends", async () => {
    const who = await person("twin@example.com");
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const first = await (await exchange(clientId, code!, verifier, resource)).json();
    // Both pass the library's "not used yet" read and meet where the token is used up (held here until both wait).
    const lock = await holdInsertsInto("oauth_records");
    let answers: Response[];
    try {
      const both = Promise.all([refresh(clientId, first.refresh_token), refresh(clientId, first.refresh_token)]);
      await lock.blocked(2);
      await lock.release();
      answers = await both;
    } finally {
      await lock.release();
    }
    const bodies = await Promise.all(answers.map((r) => r.json()));
    expect(answers.map((r) => r.status).sort()).toEqual([200, 400]);
    expect(bodies.find((b) => b.error)).toEqual({ error: "invalid_grant", error_description: "grant request is invalid" });
    const winner = bodies.find((b) => b.refresh_token);
    const after = await refresh(clientId, winner.refresh_token);
    expect([after.status, (await after.json()).error]).toEqual([400, "invalid_grant"]);
  });

  it("a consent is reused without the consent page only while the browser is signed in to the environment as that user", async () => {
    const who = await person("shared.browser@example.com");
    const clientId = await connectedClient();
    const meta = await metadata();
    const b = browser();
    const resource = mcpServerUrl(tickets.id);
    const start = () => b(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: "code", code_challenge: pkce().challenge, code_challenge_method: "S256", scope: "mcp", resource, state: "s" })}`);
    const started = await start();
    const uid = started.headers.get("location")!.split("/").at(-1)!;
    await b(await answerConsent(who.session, "prod", uid, true, b.interactionCookie()));
    // Signed in here as that user: straight back to the app with a code.
    b.jar.set(sessionCookieName("prod"), who.cookie);
    const signedIn = await start();
    expect(new URL(signedIn.headers.get("location")!, ORIGIN).href.startsWith(REDIRECT)).toBe(true);
    // Signed out (the authorization server's own session outlives it): the consent page, which signs in first.
    await endEndUserSession(who.cookie);
    const signedOut = await start();
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.get("location")).toMatch(/^\/e\/prod\/apps\/consent\/[\w-]+$/);
  });

  it("a password user's app stops refreshing once the environment requires a second factor they have not added", async () => {
    const who = await person("no.factor@example.com");
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const tokens = await (await exchange(clientId, code!, verifier, resource)).json();
    const current = await getEnvironmentAuth(env.prod.id);
    await updateEnvironmentAuth(systemCtx, env.prod.id, { ...current, identityProviderId: current.identityProviderId, secondFactor: "required", expectedVersion: undefined });
    try {
      const refused = await refresh(clientId, tokens.refresh_token);
      expect([refused.status, (await refused.json()).error]).toEqual([400, "invalid_grant"]);
    } finally {
      const now = await getEnvironmentAuth(env.prod.id);
      await updateEnvironmentAuth(systemCtx, env.prod.id, { ...now, identityProviderId: now.identityProviderId, secondFactor: current.secondFactor, expectedVersion: undefined });
    }
  });

  it("the decision endpoint decides a batch only for the MCP servers the token names: another server beside it is refused as wrong_audience", async () => {
    const who = await person("batch@example.com");
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: other.id, userIds: [who.user.id] });
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const tokens = await (await exchange(clientId, code!, verifier, resource)).json();
    const { token: apiToken } = await createApiToken(systemCtx, { name: "mcp gateway", scope: "authz", environmentIds: [env.prod.id] });
    const check = await handleApiRequest(
      new Request("http://localhost/api/v1/authz/check", {
        method: "POST",
        headers: { authorization: `Bearer ${apiToken}`, "content-type": "application/json" },
        body: JSON.stringify({ token: tokens.access_token, environment: "prod", feature: "mcp", resources: [tickets.id, other.id] }),
      }),
      "POST",
    );
    expect(check.status).toBe(200);
    const { decisions } = await check.json();
    expect(decisions.map((d: { resource: string; allow: boolean; reason: string }) => [d.resource, d.allow, d.reason])).toEqual([
      [tickets.id, true, "granted"],
      [other.id, false, "wrong_audience"],
    ]);
  });

  it("a suspended user's refresh is refused; so is a refresh after signing out everywhere", async () => {
    const sue = await person("sue@example.com");
    const clientId = await connectedClient();
    const a = await authorize(clientId, sue);
    const tokens = await (await exchange(clientId, a.code!, a.verifier, a.resource)).json();
    await suspendUser(systemCtx, sue.user.id);
    const refused = await refresh(clientId, tokens.refresh_token);
    expect([refused.status, (await refused.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (refresh token invalid (referenced account not found))");

    const sol = await person("sol@example.com");
    const b = await authorize(clientId, sol);
    const solTokens = await (await exchange(clientId, b.code!, b.verifier, b.resource)).json();
    await signOutEverywhere(systemCtx, sol.user.id);
    const afterSignOut = await refresh(clientId, solTokens.refresh_token);
    expect([afterSignOut.status, (await afterSignOut.json()).error]).toEqual([400, "invalid_grant"]);
    const call = await callMcp(b.resource, solTokens.access_token);
    expect([call.status, (await call.json()).reason]).toEqual([401, "token_revoked"]);
  });

  it("losing access to the environment refuses the refresh; the user's own disconnect stops the app too", async () => {
    const { revokeEnvironment } = await import("@/lib/users");
    const lou = await person("lou@example.com");
    const clientId = await connectedClient();
    const a = await authorize(clientId, lou);
    const tokens = await (await exchange(clientId, a.code!, a.verifier, a.resource)).json();
    await revokeEnvironment(systemCtx, { userId: lou.user.id, environmentId: env.prod.id });
    const refused = await refresh(clientId, tokens.refresh_token);
    expect([refused.status, (await refused.json()).error]).toEqual([400, "invalid_grant"]);
    expect((await lastAudit("oauth.token_issue"))!.reason).toBe("invalid_grant: grant request is invalid (refresh token invalid (referenced account not found))");

    const una = await person("una@example.com");
    const b = await authorize(clientId, una);
    const unaTokens = await (await exchange(clientId, b.code!, b.verifier, b.resource)).json();
    const [app] = await connectedApps(env.prod.id, una.user.id);
    const someoneElse = { actor: { type: "end_user" as const, id: lou.user.id, label: lou.user.email, environmentIds: [env.prod.id] } };
    await expect(revokeConsent(someoneElse, app!.id)).rejects.toThrow("Only the user who connected this app, or an administrator, can disconnect it.");
    await revokeConsent({ actor: { type: "end_user", id: una.user.id, label: una.user.email, environmentIds: [env.prod.id] } }, app!.id);
    const call = await callMcp(b.resource, unaTokens.access_token);
    expect([call.status, (await call.json()).reason]).toEqual([401, "token_revoked"]);
    expect((await lastAudit("oauth.consent_revoke"))!.after).toMatchObject({ by: "the user" });
  });

  it("an admin's revocation ends the app's access at once: the access token and the refresh token are refused", async () => {
    const who = await person("ada@example.com");
    const clientId = await connectedClient();
    const { code, verifier, resource } = await authorize(clientId, who);
    const tokens = await (await exchange(clientId, code!, verifier, resource)).json();
    const [app] = await connectedApps(env.prod.id, who.user.id);
    const reviewer = await realMemberCtx("reviewer");
    await expect(revokeConsent(reviewer, app!.id)).rejects.toThrow("A reviewer cannot change users.");
    const admin = await realMemberCtx("admin");
    await revokeConsent(admin, app!.id);
    expect(await connectedApps(env.prod.id, who.user.id)).toEqual([]);
    const call = await callMcp(resource, tokens.access_token);
    expect([call.status, (await call.json()).reason]).toEqual([401, "token_revoked"]);
    const refused = await refresh(clientId, tokens.refresh_token);
    expect([refused.status, (await refused.json()).error]).toEqual([400, "invalid_grant"]);
    const [audit] = await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, "oauth.consent_revoke"), eq(auditEvents.targetId, who.user.id)));
    expect(audit).toMatchObject({ actorId: admin.actor.id, after: expect.objectContaining({ client: "Test MCP client", server: "Tickets", by: "an admin" }) });
  });
});

describe("the environment's switches", () => {
  it("dynamic registration and Client ID Metadata Documents can each be turned off by an admin (audited)", async () => {
    const { updateEnvironmentAuth, getEnvironmentAuth } = await import("@/lib/sso/environment-auth");
    const current = await getEnvironmentAuth(env.test.id);
    const settings = {
      passwordEnabled: current.passwordEnabled,
      ssoEnabled: false,
      identityProviderId: null,
      enforcement: current.enforcement,
      jitEnabled: false,
      groupSyncEnabled: false,
      sessionLifetimeMinutes: current.sessionLifetimeMinutes,
      idleTimeoutMinutes: current.idleTimeoutMinutes,
    };
    const reviewer = await realMemberCtx("reviewer");
    await expect(updateEnvironmentAuth(reviewer, env.test.id, { ...settings, oauthDynamicRegistration: false })).rejects.toThrow("A reviewer cannot change environment auth.");
    await updateEnvironmentAuth(systemCtx, env.test.id, { ...settings, oauthDynamicRegistration: false, oauthClientMetadataDocuments: false });
    const meta = await metadata("test");
    expect(meta.registration_endpoint).toBeUndefined();
    expect(meta.client_id_metadata_document_supported).toBeUndefined();
    const refused = await machine(`${ORIGIN}/e/test/oauth/register`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ redirect_uris: [REDIRECT] }) });
    expect(refused.status).toBe(404);
    const byDocument = await machine(`${ORIGIN}/e/test/oauth/authorize?${new URLSearchParams({ client_id: "https://client.example/metadata.json", response_type: "code", redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: "S256", resource: mcpServerUrl(tickets.id) })}`);
    expect([byDocument.status, await byDocument.text()]).toEqual([400, expect.stringContaining("invalid_client: client is invalid")]);
    const [audit] = await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, "environment.auth_update"), eq(auditEvents.targetId, env.test.id))).orderBy(desc(auditEvents.occurredAt)).limit(1);
    expect(audit!.after).toMatchObject({ oauthDynamicRegistration: false, oauthClientMetadataDocuments: false });
    // PROD still registers.
    expect((await register()).status).toBe(201);
  });

  it("a Client ID Metadata Document on a private address is not fetched (no server-side request to the inside)", async () => {
    const meta = await metadata();
    const answer = await machine(`${meta.authorization_endpoint}?${new URLSearchParams({ client_id: "https://127.0.0.1:9/client.json", response_type: "code", redirect_uri: REDIRECT, code_challenge: pkce().challenge, code_challenge_method: "S256", resource: mcpServerUrl(tickets.id) })}`);
    expect(answer.status).toBe(400);
    expect(await answer.text()).toContain("invalid_client: client_id metadata document fetch failed");
  });
});

describe("upkeep", () => {
  it("prunes records expired for a day, and keeps the others", async () => {
    const { pruneOAuthRecords } = await import("./adapter");
    const { oauthRecords } = await import("@/db/schema");
    const { sql: raw } = await import("drizzle-orm");
    await getDb().insert(oauthRecords).values([
      { environmentId: env.prod.id, model: "AccessToken", id: "old-one", payload: {}, expiresAt: raw`now() - interval '2 days'` },
      { environmentId: env.prod.id, model: "AccessToken", id: "fresh-one", payload: {}, expiresAt: raw`now() + interval '1 hour'` },
    ]);
    expect(await pruneOAuthRecords()).toBe(1);
    const left = await getDb().select({ id: oauthRecords.id }).from(oauthRecords).where(eq(oauthRecords.model, "AccessToken"));
    expect(left.map((r) => r.id)).toContain("fresh-one");
    expect(left.map((r) => r.id)).not.toContain("old-one");
  });
});

describe("the authorization server's keys", () => {
  it("are the console's published set: after a rotation the key that signed before it is still published, beside the new active and next keys", async () => {
    const discovery = await (await machine(`${ORIGIN}/e/prod/.well-known/openid-configuration`)).json();
    const kids = async () => ((await (await machine(discovery.jwks_uri)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const signedBefore = (await activeSigningKey()).kid;
    expect(await kids()).toContain(signedBefore);
    const rotated = (await rotateSigningKeys(systemCtx, {}))!;
    resetKeyCache();
    expect(rotated.retired).toBe(signedBefore);
    // The provider signs with the new active key now; a client holding an ID token from just
    // before the rotation still finds its key.
    expect(await kids()).toEqual(expect.arrayContaining([signedBefore, rotated.active, rotated.next]));
    const published = await (await machine(`${ORIGIN}/.well-known/jwks.json`)).json();
    expect(await (await machine(discovery.jwks_uri)).json()).toEqual(published);
    expect((await machine(discovery.jwks_uri)).headers.get("content-type")).toBe("application/jwk-set+json");
  });
});
