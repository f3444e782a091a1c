import { expect, test, type Browser, type Page } from "@playwright/test";
import { startOidcIdp, type OidcIdp } from "../lib/sso/testing/oidc-idp";
import { baseUrl, ownEnvironment, seriousViolations, signInAsOwner, unique, writeApiToken } from "./helpers";

// OpenID Connect IdPs against a real OpenID provider: panva's oidc-provider (certified), started
// here on loopback for each test; end users sign in at the provider's own login form in Chromium.
// Each test has its own environment and providers (one client of an issuer is connected once), so
// none depends on what another left behind, and specs running alongside are not affected.

const u = unique();
const providers: OidcIdp[] = [];

/** An OpenID provider of this test's own, closed after it. */
async function provider(options: { clientId?: string; tokenAuthMethod?: "client_secret_post" } = {}): Promise<OidcIdp> {
  const started = await startOidcIdp({ redirectUri: `${baseUrl()}/api/sso/oidc/callback`, ...options });
  providers.push(started);
  return started;
}

test.afterEach(async () => {
  await Promise.all(providers.splice(0).map((p) => p.close()));
});

/** The owner's API token and the test's own environment. */
type Sso = { token: string; key: string };

const api = (page: Page, { token }: Sso, method: "POST" | "PUT" | "GET", path: string, data?: unknown) =>
  page.request.fetch(`${baseUrl()}/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}` }, ...(data ? { data } : {}) });

async function ownSsoEnvironment(page: Page, prefix: string): Promise<Sso> {
  await signInAsOwner(page);
  const token = await writeApiToken(page, `oidc-e2e-${prefix}-${unique()}`);
  return { token, key: await ownEnvironment(page, token, prefix) };
}

/** Connects an OpenID provider over REST; returns its id. */
async function connectOverRest(page: Page, sso: Sso, idp: OidcIdp, name: string, tokenAuthMethod?: "client_secret_post"): Promise<string> {
  const created = await api(page, sso, "POST", "/identity-providers", { protocol: "oidc", name, oidcIssuer: idp.issuer, oidcClientId: idp.clientId, oidcClientSecret: idp.clientSecret, oidcScopes: "openid email profile groups", ...(tokenAuthMethod ? { oidcTokenAuthMethod: tokenAuthMethod } : {}) });
  expect(created.status()).toBe(201);
  return ((await created.json()) as { id: string }).id;
}

/** Groups, the IdP's claim values mapped to them, and SSO for everyone with JIT and group sync (REST). */
async function ssoForEveryone(page: Page, sso: Sso, idpId: string) {
  for (const name of ["Engineers", "Finance"]) expect((await api(page, sso, "POST", "/groups", { environment: sso.key, name })).status()).toBe(201);
  const groups = (await (await api(page, sso, "GET", `/groups?environment=${sso.key}`)).json()).data as { id: string; name: string }[];
  const idOf = (name: string) => groups.find((g) => g.name === name)!.id;
  const mapped = await api(page, sso, "PUT", `/identity-providers/${idpId}/mappings`, { environment: sso.key, mappings: [{ idpValue: "eng", groupId: idOf("Engineers") }, { idpValue: "fin", groupId: idOf("Finance") }] });
  expect(mapped.status()).toBe(200);
  const signIn = await api(page, sso, "PUT", `/environments/${sso.key}/sign-in`, {
    passwordEnabled: false,
    ssoEnabled: true,
    identityProviderId: idpId,
    enforcement: "all",
    jitEnabled: true,
    groupSyncEnabled: true,
    sessionLifetimeMinutes: 720,
    idleTimeoutMinutes: 60,
  });
  expect(signIn.status()).toBe(200);
}

/** Signs in at the OpenID provider's own login form (oidc-provider's: any login, the account's id). */
async function providerLogin(page: Page, provider: OidcIdp, account: string) {
  await expect(page).toHaveURL(new RegExp(`^${provider.issuer}/interaction/`));
  await page.locator('input[name="login"]').fill(account);
  await page.locator('input[name="password"]').fill("any password");
  await page.getByRole("button", { name: "Sign-in" }).click();
}

/** A fresh browser: the environment's sign-in page, the email, then the IdP the email's domain leads to. */
async function oidcSignIn(browser: Browser, key: string, email: string, provider: OidcIdp, account: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${baseUrl()}/e/${key}/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Continue" }).click();
  await providerLogin(page, provider, account);
  return { context, page };
}

async function groupsOnHome(page: Page, key: string): Promise<string[]> {
  await expect(page).toHaveURL(`${baseUrl()}/e/${key}`);
  return (await page.getByTestId("end-user-groups").getByRole("listitem").allInnerTexts()).sort();
}

test("connect an OpenID Connect IdP in the console; JIT creates the user with the groups of its claim, and the next sign-in syncs changed groups", async ({ page, browser }) => {
  const sso = await ownSsoEnvironment(page, "oidc");
  const { key } = sso;
  const main = await provider();
  const MAIN = `Corporate OIDC ${u}`;

  // The console's form: protocol, issuer (its discovery URL), client, secret and scopes.
  await page.goto(`${baseUrl()}/console/${key}/identity-providers`);
  await page.getByRole("radio", { name: "OpenID Connect (discovery)" }).check();
  await expect(page.getByText(`${baseUrl()}/api/sso/oidc/callback`).first()).toBeVisible();
  await page.getByLabel("Name").fill(MAIN);
  await page.getByLabel("Issuer (or its discovery URL)").fill(`${main.issuer}/.well-known/openid-configuration`);
  await page.getByLabel("Client ID").fill(main.clientId);
  await page.getByLabel("Client secret").fill(main.clientSecret);
  await page.getByLabel("Scopes").fill("openid email profile groups");
  await page.getByRole("button", { name: "Add identity provider" }).click();
  await expect(page).toHaveURL(new RegExp(`/console/${key}/identity-providers/[0-9a-f-]{36}$`));
  const mainId = page.url().split("/").at(-1)!;
  await expect(page.getByTestId("idp-issuer")).toHaveText(main.issuer);
  await expect(page.getByText("kept sealed (never shown)")).toBeVisible();
  expect(await page.content()).not.toContain(main.clientSecret);

  await ssoForEveryone(page, sso, mainId);

  main.accounts.set(`ada-${u}`, { email: `ada-${u}@corp.example`, email_verified: true, name: "Ada Lovelace", groups: ["eng"] });
  const first = await oidcSignIn(browser, key, `ada-${u}@corp.example`, main, `ada-${u}`);
  expect(await groupsOnHome(first.page, key)).toEqual(["Engineers", "Everyone"]);
  // The home names the IdP the session came from.
  await expect(first.page.getByTestId("end-user-method")).toHaveText(`single sign-on (${MAIN})`);
  await first.context.close();

  main.accounts.set(`ada-${u}`, { email: `ada-${u}@corp.example`, email_verified: true, name: "Ada Lovelace", groups: ["fin"] });
  const second = await oidcSignIn(browser, key, `ada-${u}@corp.example`, main, `ada-${u}`);
  expect(await groupsOnHome(second.page, key)).toEqual(["Everyone", "Finance"]);
  await second.context.close();

  // The trace of the sign-in, on the IdP's page: the claims it read (no secret).
  await page.goto(`${baseUrl()}/console/${key}/identity-providers/${mainId}`);
  await expect(page.getByTestId("sso-traces").getByText(`ada-${u}`).first()).toBeVisible();
});

test("an unverified email is refused on the sign-in page with the reason", async ({ page, browser }) => {
  const sso = await ownSsoEnvironment(page, "oidcz");
  const { key } = sso;
  const main = await provider();
  await ssoForEveryone(page, sso, await connectOverRest(page, sso, main, `Corporate OIDC ${u} unverified`));
  main.accounts.set(`zed-${u}`, { email: `zed-${u}@corp.example`, email_verified: false });
  const { context, page: endUser } = await oidcSignIn(browser, key, `zed-${u}@corp.example`, main, `zed-${u}`);
  await expect(endUser).toHaveURL(new RegExp(`/e/${key}/sign-in\\?sso_error=`));
  await expect(endUser.getByRole("alert").filter({ hasText: "Single sign-on failed" })).toContainText(
    `The IdP says it is not verified (email_verified is false) for zed-${u}@corp.example: an unverified email cannot sign anyone in or be linked to an account.`,
  );
  await context.close();
});

test("two IdPs in one environment by domain: a user linked to one, unlinked and linked to the other by hand, signs in with it", async ({ page, browser }) => {
  // Four sign-ins, the settings, the chooser's accessibility scan and the user page: about 30 s on a
  // quiet machine; on a slow one with two workers every step passed and the whole took 60 s.
  test.setTimeout(120_000);
  const sso = await ownSsoEnvironment(page, "oidcp");
  const { key } = sso;
  const MAIN = `Corporate OIDC ${u} two`;
  const PARTNER = `Partner OIDC ${u}`;
  const [main, partner] = await Promise.all([provider(), provider({ clientId: "partner-client", tokenAuthMethod: "client_secret_post" })]);
  await ssoForEveryone(page, sso, await connectOverRest(page, sso, main, MAIN));
  // Pat signs in first through the main IdP (no other serves partner.example yet): linked to it.
  main.accounts.set(`pat-main-${u}`, { email: `pat-${u}@partner.example`, email_verified: true, name: "Pat Partner", groups: ["eng"] });
  const first = await oidcSignIn(browser, key, `pat-${u}@partner.example`, main, `pat-main-${u}`);
  expect(await groupsOnHome(first.page, key)).toEqual(["Engineers", "Everyone"]);
  // The home names the IdP the session came from.
  await expect(first.page.getByTestId("end-user-method")).toHaveText(`single sign-on (${MAIN})`);
  await first.context.close();

  // The partner's IdP is connected, and the environment's settings send partner.example to it.
  await connectOverRest(page, sso, partner, PARTNER, "client_secret_post");
  await page.goto(`${baseUrl()}/console/${key}/settings`);
  const form = page.getByRole("form", { name: `Authentication for ${key.toUpperCase()}` });
  await form.getByRole("button", { name: "Add an identity provider for some domains" }).click();
  const row = form.getByTestId("more-idp-row");
  await row.getByLabel("Identity provider").selectOption({ label: PARTNER });
  await row.getByLabel("Its email domains").fill("partner.example");
  await form.getByRole("button", { name: "Save authentication settings" }).click();
  await expect(page.getByText("Authentication settings saved.")).toBeVisible();

  // Both IdPs are offered where no email chose one.
  const chooser = await browser.newContext();
  const choosing = await chooser.newPage();
  await choosing.goto(`${baseUrl()}/e/${key}/sign-in?choose=1`);
  await expect(choosing.getByRole("button", { name: `Continue with ${MAIN}` })).toBeVisible();
  await expect(choosing.getByRole("button", { name: `Continue with ${PARTNER}` })).toBeVisible();
  expect(await seriousViolations(choosing)).toEqual([]);
  await choosing.getByRole("button", { name: `Continue with ${PARTNER}` }).click();
  await expect(choosing).toHaveURL(new RegExp(`^${partner.issuer}/interaction/`));
  await chooser.close();

  // Pat's email now leads to the partner's IdP, whose identity is not Pat's linked one: refused.
  partner.accounts.set(`pat-partner-${u}`, { email: `pat-${u}@partner.example`, email_verified: true, name: "Pat Partner" });
  const refused = await oidcSignIn(browser, key, `pat-${u}@partner.example`, partner, `pat-partner-${u}`);
  await expect(refused.page.getByRole("alert").filter({ hasText: "Single sign-on failed" })).toContainText(`pat-${u}@partner.example is linked to another identity provider`);
  await refused.context.close();

  // The admin unlinks the main IdP's identity and links the partner's by hand, on Pat's page.
  await page.goto(`${baseUrl()}/console/${key}/users?q=${encodeURIComponent(`pat-${u}@partner.example`)}`);
  await page.getByRole("link", { name: "Pat Partner" }).click();
  const identities = page.getByRole("table", { name: "Linked identities" });
  await expect(identities.getByRole("row").filter({ hasText: MAIN })).toContainText(`pat-main-${u}`);
  await page.getByRole("button", { name: `Unlink pat-main-${u} at ${MAIN}` }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Unlink" }).click();
  await expect(page.getByRole("dialog")).toBeHidden();
  await expect(page.getByText("No identity provider identity is linked")).toBeVisible();
  const link = page.getByRole("form", { name: "Link an identity by hand" });
  await link.getByLabel("Identity provider").selectOption({ label: PARTNER });
  await link.getByLabel(/^Subject/).fill(`pat-partner-${u}`);
  await link.getByRole("button", { name: "Link identity" }).click();
  await expect(identities.getByRole("row").filter({ hasText: PARTNER })).toContainText(`pat-partner-${u}`);

  // Pat signs in through the partner's IdP, into the same account (the groups Pat had are there).
  const again = await oidcSignIn(browser, key, `pat-${u}@partner.example`, partner, `pat-partner-${u}`);
  await expect(again.page).toHaveURL(`${baseUrl()}/e/${key}`);
  await expect(again.page.getByText("Pat Partner").first()).toBeVisible();
  await again.context.close();
  await page.reload();
  await expect(identities.getByRole("row").filter({ hasText: PARTNER })).not.toContainText("never");

  // The same identity linked by hand to someone else is refused beside the subject; nothing is linked.
  const environments = (await (await api(page, sso, "GET", "/environments")).json()).data as { id: string; key: string }[];
  const quinn = await api(page, sso, "POST", "/users", { name: "Quinn Other", email: `quinn-${u}@partner.example`, environmentIds: [environments.find((e) => e.key === key)!.id] });
  expect(quinn.status()).toBe(201);
  await page.goto(`${baseUrl()}/console/${key}/users/${((await quinn.json()) as { id: string }).id}`);
  const linkForQuinn = page.getByRole("form", { name: "Link an identity by hand" });
  await linkForQuinn.getByLabel("Identity provider").selectOption({ label: PARTNER });
  await linkForQuinn.getByLabel(/^Subject/).fill(`pat-partner-${u}`);
  await linkForQuinn.getByRole("button", { name: "Link identity" }).click();
  await expect(linkForQuinn.getByText(`This identity is already linked to pat-${u}@partner.example; unlink it there first.`)).toBeVisible();
  await expect(page.getByText("No identity provider identity is linked")).toBeVisible();
});
