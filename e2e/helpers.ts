import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import { generate } from "otplib";

export const baseUrl = () => process.env.E2E_BASE_URL!;
export const owner = () => ({ email: process.env.E2E_OWNER_EMAIL!, password: process.env.E2E_OWNER_PASSWORD! });

export async function signIn(page: Page, email: string, password: string) {
  await page.goto(`${baseUrl()}/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

export async function signInAsOwner(page: Page) {
  const { email, password } = owner();
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/console\/dev$/);
}

/** axe's serious and critical violations on the page as it is now: "rule: the elements", none when all is well. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const found = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  return found.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}

export const unique = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

/** The code an authenticator app shows `offset` 30-second steps from now (the server takes ±1 step, each step's code once). */
export const totpCode = (secret: string, offset = 0) => generate({ secret, epoch: Math.floor(Date.now() / 1000) + offset * 30 });

/** An owner's page invites a console member from Settings → Members; the link is read from the demo's outbox. */
export async function inviteMember(page: Page, member: { email: string; role: "Owner" | "Admin" | "Environment admin" | "Reviewer"; environments?: string[] }): Promise<string> {
  await page.goto(`${baseUrl()}/console/dev/settings/members`);
  await page.getByRole("button", { name: "Invite member" }).click();
  const invite = page.getByRole("dialog", { name: "Invite a console member" });
  await invite.getByLabel("Email").fill(member.email);
  await invite.getByLabel("Role").selectOption({ label: member.role });
  for (const env of member.environments ?? []) await invite.getByRole("checkbox", { name: env, exact: true }).check();
  await invite.getByRole("button", { name: "Send invitation" }).click();
  await expect(invite).toBeHidden();
  await page.goto(`${baseUrl()}/console/dev/settings`);
  const mail = page.getByRole("row").filter({ hasText: member.email }).first();
  await mail.getByText("Show the message").click();
  return (await mail.getByTestId("outbox-body").innerText()).match(/http\S+\/sign-in\/invitation\/\S+/)![0];
}

/** The invitee's page accepts the invitation link: their name and password. */
export async function acceptInvitation(page: Page, link: string, name: string, password: string) {
  await page.goto(link);
  await page.getByLabel("Your name").fill(name);
  await page.getByLabel("New password").fill(password);
  await page.getByLabel("Repeat the password").fill(password);
  await page.getByRole("button", { name: "Set password" }).click();
  await expect(page.getByText("Your password is set. Sign in to continue.")).toBeVisible();
}

/** A signed-in member adds an authenticator app on Security (the code computed from the key shown); returns the key. */
export async function addAuthenticatorApp(page: Page, name: string): Promise<string> {
  await page.goto(`${baseUrl()}/console/security`);
  await page.getByRole("button", { name: "Add an authenticator app" }).click();
  await expect(page.getByRole("img", { name: "QR code of the authenticator key" })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").innerText()).trim();
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Code from the app").fill(await totpCode(secret));
  await page.getByRole("button", { name: "Confirm" }).click();
  await expect(page.getByTestId("recovery-codes").getByRole("listitem")).toHaveCount(10);
  await expect(page.getByRole("list", { name: "Your second factors" })).toContainText(name);
  return secret;
}

/** Signs in with password and then a code from the authenticator app (the next step's: the current one may be spent). */
export async function signInWithCode(page: Page, email: string, password: string, secret: string) {
  await signIn(page, email, password);
  await page.getByLabel("Authentication code").fill(await totpCode(secret, 1));
  await page.getByRole("button", { name: "Verify" }).click();
}

/** A write API token made in the console (Settings), for the REST calls a spec needs. */
export async function writeApiToken(page: Page, name: string): Promise<string> {
  await page.goto(`${baseUrl()}/console/dev/settings`);
  await page.getByLabel("Token name").fill(name);
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  return (await page.getByTestId("new-token").innerText()).trim();
}

/** An environment of the spec's own (over REST), so specs running alongside are not affected by its settings. */
export async function ownEnvironment(page: Page, apiToken: string, prefix: string): Promise<string> {
  const key = `${prefix}${unique().slice(-6)}`;
  const created = await page.request.post(`${baseUrl()}/api/v1/environments`, { headers: { authorization: `Bearer ${apiToken}` }, data: { key, name: key.toUpperCase() } });
  expect(created.status()).toBe(201);
  return key;
}

/**
 * An admin's page adds an end user to an environment and sends a password invitation; returns the
 * user's console page and the invitation link (read from the demo's outbox).
 */
export async function inviteEndUser(page: Page, key: string, user: { name: string; email: string }): Promise<{ userPage: string; userId: string; link: string }> {
  await page.goto(`${baseUrl()}/console/${key}/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a user" });
  await dialog.getByLabel("Full name").fill(user.name);
  await dialog.getByLabel("Email").fill(user.email);
  await dialog.getByRole("button", { name: "Add user" }).click();
  await expect(dialog).toBeHidden();
  await page.goto(`${baseUrl()}/console/${key}/users?q=${encodeURIComponent(user.email)}`);
  await page.getByRole("link", { name: user.name }).click();
  await expect(page).toHaveURL(new RegExp(`/console/${key}/users/[0-9a-f-]{36}$`));
  const userPage = page.url();
  await page.getByRole("button", { name: `Send password invitation for ${key.toUpperCase()}` }).click();
  await expect(page.getByText(/Invitation sent/)).toBeVisible();
  await page.goto(`${baseUrl()}/console/${key}/settings`);
  const mail = page.getByRole("row").filter({ hasText: user.email }).first();
  await mail.getByText("Show the message").click();
  const link = (await mail.getByTestId("outbox-body").innerText()).match(/http\S+\/invite\/\S+/)![0];
  return { userPage, userId: userPage.split("/").at(-1)!, link };
}
