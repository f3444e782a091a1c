import http from "node:http";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { auth, UnauthorizedError, type OAuthClientProvider } from "@modelcontextprotocol/sdk/client/auth.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js";
import { baseUrl, inviteEndUser, ownEnvironment, seriousViolations, signInAsOwner, unique, writeApiToken } from "./helpers";

// An MCP client signs a user in by OAuth, as Claude or Cursor would: the official MCP TypeScript
// SDK's own client auth (its `auth` flow and an OAuthClientProvider) finds the authorization server
// from the MCP server's 401, registers itself, sends the user to authorize in Chromium (the
// environment's own sign-in, then the consent screen), exchanges the code, lists and calls tools,
// refreshes, and stops working once an admin disconnects it from the user's page. The environment
// is the test's own (made over REST), so specs running alongside are not affected.

/** The SDK's client side: it keeps what the SDK asks it to, and opens the authorization URL in a real browser page. */
class BrowserClientProvider implements OAuthClientProvider {
  info?: OAuthClientInformationMixed;
  saved?: OAuthTokens;
  verifier = "";
  authorizationUrl?: URL;
  /** Set: the client identifies itself by this Client ID Metadata Document instead of registering. */
  clientMetadataUrl?: string;
  constructor(readonly redirect: string) {}
  get redirectUrl() {
    return this.redirect;
  }
  get clientMetadata(): OAuthClientMetadata {
    return { client_name: "SDK test client", redirect_uris: [this.redirect], grant_types: ["authorization_code", "refresh_token"], response_types: ["code"], token_endpoint_auth_method: "none" };
  }
  clientInformation() {
    return this.info;
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  /** The SDK calls this when the server refuses what it holds (a revoked refresh token): forget it. */
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.saved = undefined;
    if (scope === "all" || scope === "client") this.info = undefined;
  }
}

/** A loopback redirect URI (as a desktop MCP client listens on): answers the browser and hands over the code. */
async function loopbackCallback() {
  let deliver: (params: URLSearchParams) => void = () => {};
  const received = new Promise<URLSearchParams>((resolve) => (deliver = resolve));
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>Done</title><p>You can close this window.</p>");
    deliver(url.searchParams);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return { redirect: `http://127.0.0.1:${port}/callback`, received, close: () => server.close() };
}

/** The owner makes an environment of the test's own, an MCP server in it, and a user with a password and a grant. */
async function endUserWithMcpServer(page: Page, browser: Browser) {
  const id = unique();
  const email = `mcp.user.${id}@example.com`;
  const password = "seven quiet herons at dawn";
  await signInAsOwner(page);
  const apiToken = await writeApiToken(page, `mcp oauth ${id}`);
  const rest = (path: string, data: unknown) => page.request.post(`${baseUrl()}/api/v1${path}`, { headers: { authorization: `Bearer ${apiToken}` }, data });
  const key = await ownEnvironment(page, apiToken, "mo");
  const server = (await (await rest("/resources", { environment: key, feature: "mcp", name: `Tickets ${id}` })).json()) as { id: string; name: string };
  const { userPage, userId, link: invite } = await inviteEndUser(page, key, { name: "Mia Client", email });
  const granted = await rest("/grants", { environment: key, feature: "mcp", resourceId: server.id, userIds: [userId] });
  expect(granted.status(), await granted.text()).toBe(201);
  const userContext = await browser.newContext();
  const user = await userContext.newPage();
  await user.goto(invite);
  await user.getByLabel("New password").fill(password);
  await user.getByLabel("Repeat the password").fill(password);
  await user.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(user).toHaveURL(`${baseUrl()}/e/${key}`);
  await user.getByRole("button", { name: "Sign out" }).click();
  return { id, email, password, key, server, serverUrl: new URL(`${baseUrl()}/mcp/${server.id}`), userPage, userContext, user };
}

/** The user, in Chromium, follows the app's authorization URL: the environment's own sign-in, then the consent screen. */
async function signInAndConsent(user: Page, setup: { key: string; email: string; password: string }, authorizationUrl: URL, expected: { client: string; server: string; redirect: string }) {
  await user.goto(authorizationUrl.href);
  await expect(user).toHaveURL(new RegExp(`/e/${setup.key}/sign-in`));
  await user.getByLabel("Email").fill(setup.email);
  await user.getByRole("button", { name: "Continue" }).click();
  await user.getByLabel("Password").fill(setup.password);
  await user.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(user.getByRole("heading", { name: `Allow ${expected.client} to use ${expected.server}?` })).toBeVisible();
  await expect(user.getByText(`It returns to ${expected.redirect}.`)).toBeVisible();
  expect(await seriousViolations(user)).toEqual([]);
}

test("an MCP client signs a user in with the SDK's OAuth: registration, sign-in and consent in Chromium, tools, refresh, then an admin disconnects it", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const setup = await endUserWithMcpServer(page, browser);
  const { id, email, key, serverUrl, userPage, userContext, user } = setup;

  // The MCP client: no token yet, so the SDK meets the server's 401, discovers and registers.
  const callback = await loopbackCallback();
  const provider = new BrowserClientProvider(callback.redirect);
  const connect = async () => {
    const client = new Client({ name: "sdk-test", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(serverUrl, { authProvider: provider }));
    return client;
  };
  await expect(connect()).rejects.toBeInstanceOf(UnauthorizedError);
  expect(provider.info?.client_id).toBeTruthy();
  expect(provider.authorizationUrl?.href).toContain(`${baseUrl()}/e/${key}/oauth/authorize?`);
  expect(provider.authorizationUrl!.searchParams.get("resource")).toBe(serverUrl.href);
  expect(provider.authorizationUrl!.searchParams.get("code_challenge_method")).toBe("S256");

  // The user, in Chromium: the environment's own sign-in, then the consent screen.
  await signInAndConsent(user, setup, provider.authorizationUrl!, { client: "SDK test client", server: `Tickets ${id}`, redirect: callback.redirect });
  await user.screenshot({ path: test.info().outputPath("consent.png"), fullPage: true });
  await user.getByRole("button", { name: "Allow" }).click();
  const params = await callback.received;
  await expect(user.getByText("You can close this window.")).toBeVisible();

  // The SDK exchanges the code, then lists and calls tools with our access token.
  await auth(provider, { serverUrl, authorizationCode: params.get("code")! });
  expect(provider.saved?.refresh_token).toBeTruthy();
  let client = await connect();
  const tools = (await client.listTools()).tools.map((t) => t.name);
  expect(tools).toContain("whoami");
  const whoami = await client.callTool({ name: "whoami", arguments: {} });
  expect(JSON.stringify(whoami.content)).toContain(email);
  await client.close();

  // A refresh: the SDK trades the refresh token for new tokens (rotated), and they work.
  const firstRefresh = provider.saved!.refresh_token!;
  provider.saved = { ...provider.saved!, access_token: "expired" };
  expect(await auth(provider, { serverUrl })).toBe("AUTHORIZED");
  expect(provider.saved!.refresh_token).not.toBe(firstRefresh);
  client = await connect();
  expect((await client.listTools()).tools.length).toBeGreaterThan(0);
  await client.close();

  // The user sees the app under Connected apps; an admin disconnects it from the user's page.
  await user.goto(`${baseUrl()}/e/${key}/apps`);
  await expect(user.getByTestId("connected-apps")).toContainText("SDK test client");
  await page.goto(userPage);
  await expect(page.getByTestId("user-connected-apps")).toContainText(`SDK test client · Tickets ${id}`);
  await page.getByRole("button", { name: `Disconnect SDK test client from Tickets ${id}` }).click();
  await page.getByRole("dialog", { name: "Disconnect this app?" }).getByRole("button", { name: "Disconnect" }).click();
  await expect(page.getByText("App disconnected.")).toBeVisible();
  await expect(page.getByTestId("user-connected-apps")).toHaveCount(0);

  // Its access token is refused at once, and so is its refresh token: the SDK must authorize again.
  const refused = await page.request.post(serverUrl.href, {
    headers: { authorization: `Bearer ${provider.saved!.access_token}`, accept: "application/json, text/event-stream" },
    data: { jsonrpc: "2.0", id: 1, method: "tools/list" },
  });
  expect([refused.status(), (await refused.json()).reason]).toEqual([401, "token_revoked"]);
  provider.authorizationUrl = undefined;
  expect(await auth(provider, { serverUrl })).toBe("REDIRECT");
  expect(provider.saved).toBeUndefined();
  expect(provider.authorizationUrl).toBeDefined();
  callback.close();
  await userContext.close();
});

test("an MCP client identified by a Client ID Metadata Document (an https URL as client_id) signs a user in without registering", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const setup = await endUserWithMcpServer(page, browser);
  const callback = await loopbackCallback();
  const documentUrl = `${process.env.E2E_CLIENT_DOCUMENTS_URL}/clients/${new URL(callback.redirect).port}/client.json`;
  const provider = new BrowserClientProvider(callback.redirect);
  provider.clientMetadataUrl = documentUrl;
  const connect = async () => {
    const client = new Client({ name: "sdk-cimd", version: "1.0.0" });
    await client.connect(new StreamableHTTPClientTransport(setup.serverUrl, { authProvider: provider }));
    return client;
  };
  await expect(connect()).rejects.toBeInstanceOf(UnauthorizedError);
  // No registration: the client id is the document's URL, which the server fetches.
  expect(provider.info?.client_id).toBe(documentUrl);
  expect(provider.authorizationUrl!.searchParams.get("client_id")).toBe(documentUrl);
  await signInAndConsent(setup.user, setup, provider.authorizationUrl!, { client: "SDK client by metadata document", server: setup.server.name, redirect: callback.redirect });
  await setup.user.getByRole("button", { name: "Allow" }).click();
  const params = await callback.received;
  // The loopback server has the code once the request arrives; the browser's navigation to it ends
  // only when the page shows (going elsewhere before that interrupts it).
  await expect(setup.user.getByText("You can close this window.")).toBeVisible();
  await auth(provider, { serverUrl: setup.serverUrl, authorizationCode: params.get("code")! });
  const client = await connect();
  expect((await client.listTools()).tools.map((t) => t.name)).toContain("whoami");
  await client.close();
  await setup.user.goto(`${baseUrl()}/e/${setup.key}/apps`);
  await expect(setup.user.getByTestId("connected-apps")).toContainText("SDK client by metadata document");
  callback.close();
  await setup.userContext.close();
});
