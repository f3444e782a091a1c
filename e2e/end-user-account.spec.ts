import { expect, test, type Page } from "@playwright/test";
import { baseUrl, inviteEndUser, seriousViolations, signInAsOwner, unique } from "./helpers";

// An end user's own account on their home page, in Chromium: changing the password (a wrong current
// one refused beside its field; the other browser is signed out) and "sign out everywhere else".

async function signInEndUser(page: Page, email: string, password: string) {
  await page.goto(`${baseUrl()}/e/dev/sign-in`);
  await page.getByLabel("Email").fill(email);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("heading", { name: /^Welcome, / })).toBeVisible();
}

test("an end user changes their password and signs out everywhere else from their home page", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const email = `account.${unique()}@example.com`;
  const first = "amber lighthouse on the cliffs";
  const second = "seven quiet foxes by the river";
  await signInAsOwner(page);
  const { link } = await inviteEndUser(page, "dev", { name: "Robin Account", email });

  const laptop = await (await browser.newContext()).newPage();
  await laptop.goto(link);
  await laptop.getByLabel("New password").fill(first);
  await laptop.getByLabel("Repeat the password").fill(first);
  await laptop.getByRole("button", { name: "Set password and sign in" }).click();
  await expect(laptop.getByRole("heading", { name: "Welcome, Robin Account" })).toBeVisible();
  const phone = await (await browser.newContext()).newPage();
  await signInEndUser(phone, email, first);

  const account = laptop.getByRole("region", { name: "Your account" });
  await expect(account).toBeVisible();
  expect(await seriousViolations(laptop)).toEqual([]);
  await account.getByLabel("Current password").fill("not the password at all");
  await account.getByLabel("New password", { exact: true }).fill(second);
  await account.getByLabel("Repeat the new password").fill(second);
  await account.getByRole("button", { name: "Change password" }).click();
  await expect(account.getByText("That is not your current password.")).toBeVisible();
  await expect(account.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");
  await account.getByLabel("Current password").fill(first);
  await account.getByLabel("New password", { exact: true }).fill(second);
  await account.getByLabel("Repeat the new password").fill(second);
  await account.getByRole("button", { name: "Change password" }).click();
  await expect(account.getByText("Password changed. 1 other session signed out.")).toBeVisible();
  await phone.reload();
  await expect(phone).toHaveURL(/\/e\/dev\/sign-in/);
  await laptop.reload();
  await expect(laptop.getByRole("heading", { name: "Welcome, Robin Account" })).toBeVisible();

  // Signed in again elsewhere with the new password, then signed out from the laptop.
  await signInEndUser(phone, email, second);
  await laptop.getByRole("button", { name: "End my other sessions" }).click();
  await expect(laptop.getByText("1 other session signed out.")).toBeVisible();
  await phone.reload();
  await expect(phone).toHaveURL(/\/e\/dev\/sign-in/);
  await laptop.reload();
  await expect(laptop.getByRole("heading", { name: "Welcome, Robin Account" })).toBeVisible();
});
