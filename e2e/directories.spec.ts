import { expect, test } from "@playwright/test";
import { runMicrosoftCollection } from "../scripts/lib/ms-scim";
import { baseUrl, signInAsOwner } from "./helpers";

test("create a SCIM directory: the base URL and the token are shown once; rotating shows a new one", async ({ page }) => {
  const name = `Okta ${Date.now().toString(36)}`;
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/test/directories`);
  await page.getByLabel("Directory name").fill(name);
  await page.getByRole("button", { name: "Create directory" }).click();
  const token = await page.getByTestId("scim-token").innerText();
  expect(token).toMatch(/^scim_[A-Za-z0-9_-]{43}$/);
  await expect(page.getByTestId("scim-base-url")).toHaveText(new RegExp(`^${baseUrl()}/scim/v2/[0-9a-f-]{36}$`));
  // Copy buttons put the exact value on the clipboard.
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl() });
  await page.getByRole("button", { name: "Copy Secret token (bearer)" }).click();
  await expect(page.getByRole("button", { name: "Secret token (bearer) copied" })).toBeVisible();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(token);
  const baseUrlValue = await page.getByTestId("scim-base-url").innerText();
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: `Copy the SCIM base URL of ${name}` }).click();
  expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(baseUrlValue);
  const row = page.getByRole("row").filter({ hasText: name });
  await expect(row).toContainText(token.slice(-4));
  await page.reload();
  await expect(page.getByTestId("scim-token")).toHaveCount(0);
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Rotate token" }).click();
  await page.getByRole("dialog", { name: `Rotate ${name}'s token?` }).getByRole("button", { name: "Rotate token" }).click();
  await expect(page.getByTestId("scim-token")).not.toHaveText(token);
  await page.getByRole("row").filter({ hasText: name }).getByRole("button", { name: "Disable" }).click();
  await expect(page.getByRole("row").filter({ hasText: name })).toContainText("disabled");
});

test("Microsoft's SCIM test collection passes against a fresh directory created in the console", async ({ page }) => {
  test.setTimeout(120_000);
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/directories`);
  await page.getByLabel("Directory name").fill(`Entra ${Date.now().toString(36)}`);
  // Entra's provisioning (and its test collection) expects 204 to a PATCH.
  await page.getByLabel("PATCH answers").selectOption("no_content");
  await page.getByRole("button", { name: "Create directory" }).click();
  const token = await page.getByTestId("scim-token").innerText();
  const base = await page.getByTestId("scim-base-url").innerText();
  const result = await runMicrosoftCollection(base, token);
  expect(result.failures).toEqual([]);
  expect(result).toMatchObject({ total: 103, failed: 0 });
});
