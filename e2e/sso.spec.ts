import { X509Certificate } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { baseUrl, seriousViolations, signInAsOwner } from "./helpers";
import { generateKeyPair } from "../lib/sso/testing/test-idp";
import { E2E_IDP_USERS, writeIdpUsers } from "./support/simplesamlphp";

// SSO against a real IdP: Debian's SimpleSAMLphp, started by the harness on loopback and connected
// through the console by its metadata URL. These steps build on each other (one IdP, one PROD
// configuration), so the file runs in order; it does not depend on any other spec.
test.describe.configure({ mode: "serial" });

const IDP_NAME = "SimpleSAMLphp (e2e)";

test.beforeAll(() => {
  if (process.env.E2E_IDP_MISSING) throw new Error(process.env.E2E_IDP_MISSING);
});

async function createGroup(page: Page, env: string, name: string) {
  await page.goto(`${baseUrl()}/console/${env}/groups`);
  await page.getByLabel("New group").fill(name);
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
}

/** Signs in at SimpleSAMLphp's login form (it posts `username` and `password`). */
async function idpLogin(page: Page, username: string, password: string) {
  await expect(page).toHaveURL(new RegExp(`^${process.env.E2E_IDP_BASE_URL}`));
  await page.locator('input[name="username"]').fill(username);
  await page.locator('input[name="password"]').fill(password);
  await page.locator('button[type="submit"], input[type="submit"]').first().click();
}

async function ssoSignIn(browser: Browser, email: string, username: string, password: string) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${baseUrl()}/e/prod/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Continue" }).click();
  await idpLogin(page, username, password);
  return { context, page };
}

async function groupsOnHome(page: Page): Promise<string[]> {
  await expect(page).toHaveURL(`${baseUrl()}/e/prod`);
  return (await page.getByTestId("end-user-groups").getByRole("listitem").allInnerTexts()).sort();
}

async function saveProdAuth(page: Page, options: { enforcement: "Everyone" | "Emails of these domains"; domains?: string; password: boolean; breakGlass?: string }) {
  await page.goto(`${baseUrl()}/console/prod/settings`);
  const form = page.getByRole("form", { name: "Authentication for PROD" });
  await form.getByRole("checkbox", { name: "Password sign-in" }).setChecked(options.password);
  await form.getByRole("checkbox", { name: "Single sign-on (SAML or OpenID Connect)" }).check();
  await form.getByLabel("Identity provider").selectOption({ label: IDP_NAME });
  await form.getByRole("radio", { name: options.enforcement }).check();
  if (options.domains !== undefined) await form.getByLabel(/Domains that must use SSO/).fill(options.domains);
  await form.getByLabel(/Break-glass users/).fill(options.breakGlass ?? "");
  await form.getByRole("checkbox", { name: /Just-in-time provisioning/ }).check();
  await form.getByRole("checkbox", { name: /Group sync/ }).check();
  await form.getByRole("button", { name: "Save authentication settings" }).click();
  await expect(page.getByText("Authentication settings saved.")).toBeVisible();
}

test("connect SimpleSAMLphp by its metadata URL and put PROD on SSO", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/identity-providers`);
  await expect(page.getByTestId("acs-value")).toHaveText(`${baseUrl()}/api/sso/acs`);
  await page.getByLabel("Name").fill(IDP_NAME);
  await page.getByLabel("Metadata URL", { exact: true }).fill(process.env.E2E_IDP_METADATA_URL!);
  await page.getByRole("button", { name: "Add identity provider" }).click();
  await expect(page.getByRole("heading", { name: IDP_NAME })).toBeVisible();
  await expect(page.getByTestId("idp-entity-id")).toHaveText(process.env.E2E_IDP_METADATA_URL!);
  await expect(page.getByRole("table", { name: "Signing certificates" }).getByRole("row")).toHaveCount(2);
  // The IdP-side groups exist in PROD under the same names (Operations arrives by mapping below).
  await createGroup(page, "prod", "Engineering");
  await createGroup(page, "prod", "Ops Team");
  await createGroup(page, "prod", "Design");
  await page.goto(`${baseUrl()}/console/prod/identity-providers`);
  await page.getByRole("link", { name: IDP_NAME }).click();
  await page.getByRole("button", { name: "Add mapping" }).click();
  await page.getByLabel("IdP group value").fill("Operations");
  // A value with no group yet: the refusal is shown at that row's group, saying what to do.
  await page.getByRole("button", { name: "Save mappings" }).click();
  await expect(page.getByLabel("Group here")).toHaveAccessibleDescription("Choose the group this value maps to.");
  await page.getByLabel("Group here").selectOption({ label: "Ops Team" });
  await page.getByRole("button", { name: "Save mappings" }).click();
  await expect(page.getByText("Saved 1 mapping(s).")).toBeVisible();
  // The IdP page itself (without the toast) has no serious accessibility violation.
  await page.reload();
  await expect(page.getByRole("heading", { name: "SSO traces" })).toBeVisible();
  const violations = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  await saveProdAuth(page, { enforcement: "Everyone", password: false });
});

test("a certificate that appears when the metadata is read again awaits approval; an admin approves it, then removes it", async ({ page }) => {
  // The IdP's metadata with a second signing certificate (pasted: SimpleSAMLphp serves one key).
  const metadata = await (await fetch(process.env.E2E_IDP_METADATA_URL!)).text();
  const { certPem, certBase64 } = generateKeyPair("e2e-rollover");
  const fingerprint = new X509Certificate(certPem).fingerprint256;
  const withSecond = metadata.replace(
    /(<(?:\w+:)?IDPSSODescriptor\b[^>]*>)/,
    `$1<md:KeyDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>${certBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`,
  );
  expect(withSecond).not.toBe(metadata);

  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/identity-providers`);
  await page.getByRole("link", { name: IDP_NAME }).click();
  await page.getByLabel(/paste new metadata XML/).fill(withSecond);
  await page.getByRole("button", { name: "Refresh metadata" }).click();
  await expect(page.getByText("1 new certificate(s) await your approval under Signing certificates.")).toBeVisible();
  await expect(page.getByTestId("pending-certificates")).toBeVisible();
  const certificates = page.getByRole("table", { name: "Signing certificates" });
  const row = certificates.getByRole("row").filter({ hasText: fingerprint });
  await expect(row).toContainText("pending approval");
  // The IdP's own certificate is the last approved one: no Remove (the domain would refuse it), but what to do.
  const own = certificates.getByRole("row").filter({ hasText: "approved" }).filter({ hasNotText: fingerprint });
  await expect(own).toContainText("The last approved certificate: approve its successor before removing it.");
  await expect(own.getByRole("button", { name: /^Remove certificate/ })).toHaveCount(0);
  // The console's banner points to the IdP's certificates.
  await expect(page.getByRole("status").getByRole("link", { name: IDP_NAME })).toHaveAttribute("href", /#certificates$/);

  await row.getByRole("button", { name: /^Approve certificate/ }).click();
  const dialog = page.getByRole("dialog", { name: "Approve this signing certificate?" });
  await expect(dialog).toContainText(fingerprint);
  await expect(dialog).toContainText("CN=e2e-rollover");
  const violations = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`)).toEqual([]);
  await dialog.getByRole("button", { name: "Approve certificate" }).click();
  await expect(page.getByText("Certificate approved.")).toBeVisible();
  await expect(row).toContainText("approved by");
  await expect(page.getByTestId("pending-certificates")).toHaveCount(0);
  await expect(own.getByRole("button", { name: /^Remove certificate/ })).toHaveCount(1);

  // SimpleSAMLphp never signs with it: removed again (confirmed), and the sign-ins below still work.
  await row.getByRole("button", { name: /^Remove certificate/ }).click();
  await page.getByRole("dialog", { name: "Remove this signing certificate?" }).getByRole("button", { name: "Remove certificate" }).click();
  await expect(page.getByText("Certificate removed.")).toBeVisible();
  await expect(certificates.getByRole("row")).toHaveCount(2);
  await expect(own.getByRole("button", { name: /^Remove certificate/ })).toHaveCount(0);
});

test("SP-initiated sign-in to PROD creates the user by JIT with the IdP's groups", async ({ browser, page: admin }) => {
  const { context, page } = await ssoSignIn(browser, "alice@sso.example", "alice", "alice-password");
  expect(await groupsOnHome(page)).toEqual(["Engineering", "Everyone", "Ops Team"]);
  await expect(page.getByTestId("end-user-email")).toHaveText("alice@sso.example");
  await context.close();
  // The group's page says which IdP's sign-ins added its members.
  await signInAsOwner(admin);
  await admin.goto(`${baseUrl()}/console/prod/groups`);
  await admin.getByRole("link", { name: "Engineering", exact: true }).click();
  await expect(admin.getByTestId("members-by-source")).toContainText(`from IdP sign-ins (${IDP_NAME}: `);
});

test("a second sign-in with changed groups removes the SAML membership and keeps a manual one", async ({ page, browser }) => {
  // An admin adds Alice to Design by hand.
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/users?q=alice%40sso.example`);
  await page.getByRole("link", { name: "Alice Anders" }).click();
  await page.getByRole("combobox", { name: "Add to groups in PROD" }).fill("Design");
  await page.getByRole("option", { name: /^Design/ }).click();
  await page.getByRole("button", { name: /^Add 1/ }).click();
  await expect(page.locator('[aria-label="Groups in PROD"]')).toContainText("Design");

  // At the IdP, Alice leaves Operations.
  writeIdpUsers(process.env.E2E_IDP_DIR!, E2E_IDP_USERS.map((u) => (u.username === "alice" ? { ...u, groups: ["Engineering"] } : u)));
  try {
    const { context, page: endUser } = await ssoSignIn(browser, "alice@sso.example", "alice", "alice-password");
    expect(await groupsOnHome(endUser)).toEqual(["Design", "Engineering", "Everyone"]);
    await context.close();
  } finally {
    writeIdpUsers(process.env.E2E_IDP_DIR!, E2E_IDP_USERS);
  }
});

test("IdP-initiated sign-in works only with the toggle on", async ({ page, browser }) => {
  const url = `${process.env.E2E_IDP_INITIATED_URL}&RelayState=${encodeURIComponent("/e/prod")}`;
  let context = await browser.newContext();
  let endUser = await context.newPage();
  await endUser.goto(url);
  await idpLogin(endUser, "carol", "carol-password");
  await expect(endUser).toHaveURL(/\/e\/prod\/sign-in\?sso_error=/);
  await expect(endUser.getByRole("alert").filter({ hasText: "Single sign-on failed" })).toContainText("IdP-initiated sign-in is turned off for this identity provider");
  await context.close();

  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/identity-providers`);
  await page.getByRole("link", { name: IDP_NAME }).click();
  await page.getByRole("checkbox", { name: /Allow IdP-initiated sign-in/ }).check();
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expect(page.getByText("Saved.")).toBeVisible();

  context = await browser.newContext();
  endUser = await context.newPage();
  await endUser.goto(url);
  await idpLogin(endUser, "carol", "carol-password");
  expect(await groupsOnHome(endUser)).toEqual(["Engineering", "Everyone"]);
  await context.close();

  // The trace of the refused attempt names the failed check in plain words.
  await page.reload();
  await expect(page.getByTestId("sso-traces")).toContainText("unsolicited: IdP-initiated sign-in is turned off");
});

test("a sign-in that meets an existing user with an unproven email is refused; an admin links the identity from the trace", async ({ page, browser }) => {
  const dave = { username: "dave", password: "dave-password", email: "dave@sso.example", name: "Dave Davis", groups: [] };
  writeIdpUsers(process.env.E2E_IDP_DIR!, [...E2E_IDP_USERS, dave]);
  try {
    // An admin adds Dave by hand: nobody has proven that address is his yet.
    await signInAsOwner(page);
    await page.goto(`${baseUrl()}/console/prod/users`);
    await page.getByRole("button", { name: "Add user" }).click();
    const dialog = page.getByRole("dialog", { name: "Add a user" });
    await dialog.getByLabel("Full name").fill(dave.name);
    await dialog.getByLabel("Email").fill(dave.email);
    await dialog.getByRole("button", { name: "Add user" }).click();
    await expect(dialog).toBeHidden();

    let { context, page: endUser } = await ssoSignIn(browser, dave.email, dave.username, dave.password);
    await expect(endUser).toHaveURL(/\/e\/prod\/sign-in\?sso_error=/);
    await expect(endUser.getByText(/dave@sso\.example belongs to an existing user whose email is not verified/)).toBeVisible();
    await context.close();

    // The IdP's trace names the failed check and offers the fix.
    await page.goto(`${baseUrl()}/console/prod/identity-providers`);
    await page.getByRole("link", { name: IDP_NAME }).click();
    const trace = page.getByTestId("sso-traces").getByRole("listitem").filter({ hasText: "email_unverified" }).first();
    await trace.locator("summary").click();
    await trace.getByRole("button", { name: `Link this identity to ${dave.email}` }).click();
    await expect(page.getByText(/Linked: the next sign-in with this identity signs in as dave@sso\.example/)).toBeVisible();

    ({ context, page: endUser } = await ssoSignIn(browser, dave.email, dave.username, dave.password));
    await expect(endUser).toHaveURL(`${baseUrl()}/e/prod`);
    await expect(endUser.getByTestId("end-user-email")).toHaveText(dave.email);
    await context.close();
  } finally {
    writeIdpUsers(process.env.E2E_IDP_DIR!, E2E_IDP_USERS);
  }
});

test("a domain user who types an enforced email is sent to SSO; others get the password form", async ({ page, browser }) => {
  await signInAsOwner(page);
  await saveProdAuth(page, { enforcement: "Emails of these domains", domains: "sso.example", password: true });
  const context = await browser.newContext();
  const endUser = await context.newPage();
  await endUser.goto(`${baseUrl()}/e/prod/sign-in`);
  await endUser.getByLabel("Email").fill("someone@example.com");
  await endUser.getByRole("button", { name: "Continue" }).click();
  await expect(endUser.getByLabel("Password")).toBeVisible();
  await endUser.goto(`${baseUrl()}/e/prod/sign-in`);
  await endUser.getByLabel("Email").fill("someone@sso.example");
  await endUser.getByRole("button", { name: "Continue" }).click();
  await expect(endUser).toHaveURL(new RegExp(`^${process.env.E2E_IDP_BASE_URL}`));
  // The email step sent blank (the browser requires the field; a script need not): asked again, not sent to the IdP.
  await endUser.goto(`${baseUrl()}/e/prod/sign-in`);
  await endUser.getByLabel("Email").evaluate((input) => input.removeAttribute("required"));
  await endUser.getByRole("button", { name: "Continue" }).click();
  await expect(endUser).toHaveURL(`${baseUrl()}/e/prod/sign-in?error=email_required`);
  await expect(endUser.getByLabel("Email")).toHaveAccessibleDescription("Enter your email address.");
  await context.close();
});

test("an invited break-glass user signs in with a password while SSO is enforced for everyone", async ({ page, browser }) => {
  const email = `breakglass.${Date.now().toString(36)}@example.com`;
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a user" });
  await dialog.getByLabel("Full name").fill("Break Glass");
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByRole("button", { name: "Add user" }).click();
  await expect(dialog).toBeHidden();
  await page.goto(`${baseUrl()}/console/prod/users?q=${encodeURIComponent(email)}`);
  await page.getByRole("link", { name: "Break Glass" }).click();
  await page.getByRole("button", { name: "Send password invitation for PROD" }).click();
  await expect(page.getByText(/Invitation sent/)).toBeVisible();
  await saveProdAuth(page, { enforcement: "Everyone", password: false, breakGlass: email });

  // The demo keeps mail in the outbox; the invitation link is there.
  await page.goto(`${baseUrl()}/console/prod/settings`);
  const mail = page.getByRole("row").filter({ hasText: email }).first();
  await mail.getByText("Show the message").click();
  const body = await mail.getByTestId("outbox-body").innerText();
  const link = body.match(/http\S+\/invite\/\S+/)![0];

  const context = await browser.newContext();
  const endUser = await context.newPage();
  await endUser.goto(link);
  await endUser.getByLabel("New password").fill("glass breaks in emergencies only");
  await endUser.getByLabel("Repeat the password").fill("glass breaks in emergencies only");
  await endUser.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(endUser).toHaveURL(`${baseUrl()}/e/prod`);
  await endUser.getByRole("button", { name: "Sign out" }).click();
  await expect(endUser).toHaveURL(/signed_out=1/);

  await endUser.getByRole("link", { name: "Use a password (break-glass accounts only)" }).click();
  // The password step replaces the email step (a client-side navigation): wait for it before typing.
  await expect(endUser).toHaveURL(/\/e\/prod\/sign-in\?method=password$/);
  await expect(endUser.getByLabel("Password")).toBeVisible();
  await endUser.getByLabel("Email").fill(email);
  await endUser.getByLabel("Password").fill("glass breaks in emergencies only");
  await endUser.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(endUser).toHaveURL(`${baseUrl()}/e/prod`);
  await expect(endUser.getByText("password", { exact: true })).toBeVisible();
  await context.close();
});

test("a PROD user signed in by SSO talks to a genie until an admin removes the group's grant", async ({ page, browser }) => {
  const genie = `Helpdesk genie ${Date.now().toString(36)}`;
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/access?feature=agent_studio`);
  await page.getByLabel("New genie name").fill(genie);
  await page.getByRole("button", { name: "Create genie" }).click();
  await page.getByRole("link", { name: genie }).click();
  await expect(page.getByRole("heading", { name: genie })).toBeVisible();
  await page.getByRole("combobox", { name: "Add a group" }).fill("Engineering");
  await page.getByRole("option", { name: /^Engineering/ }).click();
  await page.getByRole("button", { name: `Grant ${genie}` }).click();
  await expect(page.getByTestId("grant-row").filter({ hasText: "Engineering" })).toBeVisible();

  // Carol (Engineering at the IdP) signs in to PROD by SSO and finds the genie on her home page.
  const { context, page: endUser } = await ssoSignIn(browser, "carol@sso.example", "carol", "carol-password");
  await expect(endUser).toHaveURL(`${baseUrl()}/e/prod`);
  await endUser.getByTestId("genies").getByRole("link", { name: genie }).click();
  await endUser.getByLabel("Message").fill("Where is my laptop?");
  await endUser.getByRole("button", { name: "Send" }).click();
  await expect(endUser.getByTestId("genie-log").locator('[data-from="genie"]')).toContainText(`${genie} here`);

  // Tokens go only to this site's pages, for known audiences, with a session.
  const tokenUrl = `${baseUrl()}/e/prod/token`;
  const foreign = await endUser.request.post(tokenUrl, { headers: { origin: "https://evil.example" }, data: { audience: "agent_studio" } });
  expect([foreign.status(), (await foreign.json()).type]).toEqual([403, "urn:iam-console:problem:bad_origin"]);
  const unknown = await endUser.request.post(tokenUrl, { headers: { origin: baseUrl() }, data: { audience: "https://evil.example/mcp" } });
  expect([unknown.status(), (await unknown.json()).errors]).toEqual([400, { audience: ["Unknown audience."] }]);
  const anonymous = await (await browser.newContext()).request.post(tokenUrl, { headers: { origin: baseUrl() }, data: { audience: "agent_studio" } });
  expect([anonymous.status(), (await anonymous.json()).type]).toEqual([401, "urn:iam-console:problem:no_session"]);

  // Who can use the genie: Carol through Engineering, also as CSV.
  await page.getByRole("link", { name: "Who can use this" }).click();
  await expect(page).toHaveURL(/\?tab=who$/);
  await expect(page.getByTestId("who-can-use")).toContainText("carol@sso.example");
  const csv = await (await page.request.get(`${page.url().split("?")[0]}/who`)).text();
  expect(csv.split("\n")[0]).toBe("user_id,email,name,via,group,grant_id,grant_scope");
  expect(csv).toMatch(/,carol@sso\.example,Carol Chen,group,Engineering,[0-9a-f-]{36},resource/);
  await page.getByRole("link", { name: "End-user access" }).click();
  await expect(page).toHaveURL(/\?tab=access$/);

  // The admin removes Engineering's grant; Carol's next message is refused with the reason.
  await page.getByRole("button", { name: "Remove the grant of Engineering" }).click();
  await expect(page.getByTestId("grant-row")).toHaveCount(0);
  await endUser.getByLabel("Message").fill("Hello again");
  await endUser.getByRole("button", { name: "Send" }).click();
  await expect(endUser.getByTestId("genie-log").locator('[data-from="denied"]')).toHaveText(
    "Refused (no_grant): Neither the user nor any of their groups has a grant for this feature or resource.",
  );

  // Explain, from the resource page, says the same.
  await page.getByRole("link", { name: "Explain" }).click();
  // A client-side navigation: wait for the Explain view before typing (typing earlier is lost).
  await expect(page).toHaveURL(/\?tab=explain$/);
  await expect(page.getByRole("button", { name: "Explain" })).toBeVisible();
  await page.getByRole("combobox", { name: "User" }).fill("Carol");
  await page.getByRole("option", { name: /Carol Chen/ }).click();
  await page.getByRole("button", { name: "Explain" }).click();
  await expect(page.getByTestId("explain-result")).toContainText("Denied (no_grant)");
  await context.close();
});

test("console SSO: a member signs in to the console through SimpleSAMLphp with a group mapped to reviewer and can only read", async ({ page, browser }) => {
  const rita = { username: "rita", password: "rita-password", email: "rita.console@sso.example", name: "Rita Console", groups: ["Auditors"] };
  writeIdpUsers(process.env.E2E_IDP_DIR!, [...E2E_IDP_USERS, rita]);
  try {
    // The owner lets members in through the IdP: Auditors → reviewer (the owner keeps a password).
    await signInAsOwner(page);
    await page.goto(`${baseUrl()}/console/security`);
    const form = page.getByRole("form", { name: "Console single sign-on" });
    await form.getByRole("checkbox", { name: "Let members sign in through an identity provider" }).check();
    await form.getByLabel("Identity provider", { exact: true }).selectOption({ label: IDP_NAME });
    await form.getByRole("button", { name: "Add mapping" }).click();
    await form.getByLabel("IdP group value").fill("Auditors");
    await form.getByLabel("Console role", { exact: true }).selectOption({ label: "Reviewer" });
    await form.getByRole("button", { name: "Save console sign-in" }).click();
    await expect(page.getByText("Console sign-in settings saved.")).toBeVisible();
    await page.reload();
    await expect(form.getByLabel("IdP group value")).toHaveValue("Auditors");
    expect(await seriousViolations(page)).toEqual([]);

    // Rita, in a browser of her own: the console's sign-in page → SimpleSAMLphp → the console.
    const context = await browser.newContext();
    const member = await context.newPage();
    await member.goto(`${baseUrl()}/sign-in`);
    expect(await seriousViolations(member)).toEqual([]);
    await member.getByRole("button", { name: `Sign in with single sign-on (${IDP_NAME})` }).click();
    await idpLogin(member, "rita", "rita-password");
    await expect(member).toHaveURL(/\/console\/dev$/);
    // Read-only: the lists are there, the buttons that change things are not, and a write is refused.
    await member.goto(`${baseUrl()}/console/dev/users`);
    await expect(member.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
    await expect(member.getByRole("button", { name: "Add user" })).toHaveCount(0);
    await member.goto(`${baseUrl()}/console/dev/settings/members`);
    await expect(member.getByText("Only owners and admins manage members. A reviewer cannot change console members.")).toBeVisible();
    const row = member.getByRole("row").filter({ hasText: rita.email });
    await expect(row).toContainText("Reviewer");
    await expect(row).toContainText(`signs in with ${IDP_NAME}; role follows its groups`);
    await context.close();
    // The owner is told, when changing her role, that her next SSO sign-in sets it from the groups again.
    await page.goto(`${baseUrl()}/console/dev/settings/members`);
    await page.getByRole("button", { name: `Change role of ${rita.email}` }).click();
    await expect(page.getByRole("dialog", { name: `Change the role of ${rita.email}` })).toContainText(`They sign in with ${IDP_NAME}: their next sign-in there sets the role from its groups again.`);
    await page.keyboard.press("Escape");

    // Carol's groups map to no console role: no mapping, no access, and the sign-in page says why.
    const refusedContext = await browser.newContext();
    const refused = await refusedContext.newPage();
    await refused.goto(`${baseUrl()}/sign-in`);
    await refused.getByRole("button", { name: `Sign in with single sign-on (${IDP_NAME})` }).click();
    await idpLogin(refused, "carol", "carol-password");
    await expect(refused).toHaveURL(/\/sign-in\?sso_error=/);
    // (Next's route announcer is an alert too: the refusal is the one that says so.)
    await expect(refused.getByRole("alert").filter({ hasText: "Single sign-on failed" })).toContainText("No console role is mapped to any of carol@sso.example's IdP groups (“Engineering”): no mapping, no access.");
    await refusedContext.close();
  } finally {
    writeIdpUsers(process.env.E2E_IDP_DIR!, E2E_IDP_USERS);
  }
});
