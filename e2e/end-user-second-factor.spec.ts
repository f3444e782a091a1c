import { expect, test, type Page } from "@playwright/test";
import { baseUrl, inviteEndUser, ownEnvironment, seriousViolations, signInAsOwner, totpCode, writeApiToken } from "./helpers";

// An end user's second factor where an environment requires one: invited, the user sets a password
// and is asked to add an authenticator app before anything else (the test computes codes from the
// key shown), keeps the recovery codes, signs in again with password and code, and an admin resets
// the factor from the user's page. The environment is the test's own (made over REST), so specs
// running alongside are not affected by its policy.


async function setPolicy(page: Page, key: string, label: "Off" | "Required: users add one at their next sign-in") {
  await page.goto(`${baseUrl()}/console/${key}/settings`);
  const form = page.getByRole("form", { name: `Authentication for ${key.toUpperCase()}` });
  await form.getByLabel("Second factor on password sign-in").selectOption({ label });
  await form.getByRole("button", { name: "Save authentication settings" }).click();
  await expect(page.getByText("Authentication settings saved.")).toBeVisible();
}

test("where an environment requires a second factor, an end user adds an authenticator app first, then signs in with a code; an admin resets it", async ({ page, browser }) => {
  test.setTimeout(150_000);
  const email = `second.factor.${Date.now().toString(36)}@example.com`;
  const password = "seven quiet herons at dawn";
  await signInAsOwner(page);
  const key = await ownEnvironment(page, await writeApiToken(page, "second factor environment"), "tf");
  const { userPage, link } = await inviteEndUser(page, key, { name: "Tess Two", email });
  await setPolicy(page, key, "Required: users add one at their next sign-in");

  // The user sets a password and is asked for a second factor before anything else.
  const context = await browser.newContext();
  const user = await context.newPage();
  await user.goto(link);
  await user.getByLabel("New password").fill(password);
  await user.getByLabel("Repeat the password").fill(password);
  await user.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(user).toHaveURL(`${baseUrl()}/e/${key}`);
  await expect(user.getByRole("heading", { name: "Add a second factor" })).toBeVisible();
  await expect(user.getByRole("heading", { name: "Welcome, Tess Two" })).toHaveCount(0);
  // No access token meanwhile.
  const token = await user.evaluate(async () => (await fetch(location.pathname + "/token", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ audience: "agent_studio" }) })).json());
  expect(token.detail).toBe("This environment requires a second factor: add one first (your home page in this environment).");

  await user.getByRole("button", { name: "Add an authenticator app" }).click();
  const secret = (await user.getByTestId("totp-secret").innerText()).trim();
  await user.getByLabel("Code from the app").fill(await totpCode(secret));
  await user.getByRole("button", { name: "Confirm" }).click();
  await expect(user.getByTestId("recovery-codes").getByRole("listitem")).toHaveCount(10);
  await expect(user.locator("[data-sonner-toast]")).toHaveCount(0, { timeout: 15_000 });
  expect(await seriousViolations(user)).toEqual([]);
  // The home appears above, and the recovery codes stay on screen below until the user leaves.
  await expect(user.getByRole("heading", { name: "Welcome, Tess Two" })).toBeVisible();
  await expect(user.getByTestId("recovery-codes").getByRole("listitem")).toHaveCount(10);

  // Signing in again: email, password, then a code (the next step's: the current one is spent).
  await user.getByRole("button", { name: "Sign out" }).click();
  await expect(user).toHaveURL(/signed_out=1/);
  await user.getByLabel("Email").fill(email);
  await user.getByRole("button", { name: "Continue" }).click();
  await user.getByLabel("Password").fill(password);
  await user.getByRole("button", { name: "Sign in", exact: true }).click();
  await user.getByLabel("Authentication code").fill("000000");
  await user.getByRole("button", { name: "Verify" }).click();
  await expect(user.getByText("That code is not right.")).toBeVisible();
  await user.getByLabel("Authentication code").fill(await totpCode(secret, 1));
  await user.getByRole("button", { name: "Verify" }).click();
  await expect(user.getByRole("heading", { name: "Welcome, Tess Two" })).toBeVisible();

  // The admin sees the factor on the user's page and resets it: the user is signed out.
  await page.goto(userPage);
  await expect(page.getByTestId("user-second-factors")).toHaveText("Second factors: authenticator app “Authenticator app”");
  await page.getByRole("button", { name: "Reset second factors" }).click();
  await expect(page.getByText("Second factors reset (1 removed); the user is signed out everywhere.")).toBeVisible();
  await expect(page.getByTestId("user-second-factors")).toHaveText("Second factors: none");
  await user.reload();
  await expect(user).toHaveURL(new RegExp(`/e/${key}/sign-in`));
  await context.close();
});
