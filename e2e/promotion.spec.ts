import { expect, test } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// "Promote DEV → STAGE" in the console: a pipeline's token makes a new environment over REST (as
// automation would), the console shows the plan of promoting PROD's configuration into it, the owner
// applies it, and the plan is then empty. A new environment keeps the seed's three untouched.

test("the owner reviews the plan of promoting PROD into a new environment, applies it, and the next plan is empty", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/settings`);
  await page.getByLabel("Token name").fill("promotion pipeline");
  await page.getByLabel("Scope").selectOption("write");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = (await page.getByTestId("new-token").innerText()).trim();
  const key = `stage${Date.now().toString(36).slice(-4)}`;
  const created = await page.request.post(`${baseUrl()}/api/v1/environments`, { headers: { authorization: `Bearer ${token}` }, data: { key, name: key.toUpperCase() } });
  expect(created.status()).toBe(201);

  // The environment just before the new one is proposed (PROD, unless a spec running alongside made
  // one in between); DEV is chosen (PROD's sign-in is another spec's to change).
  await page.goto(`${baseUrl()}/console/${key}/promote`);
  const order = await page.getByLabel("Environment", { exact: true }).locator("option").allInnerTexts();
  const proposed = order[order.indexOf(key.toUpperCase()) - 1]!;
  await expect(page.getByRole("heading", { name: `Promote ${proposed} → ${key.toUpperCase()}` })).toBeVisible();
  // Chosen before the page hydrates, the choice goes nowhere: choose until the DEV plan shows.
  await expect(async () => {
    await page.getByLabel("Promote from").selectOption("dev");
    await expect(page.getByRole("heading", { name: `Promote DEV → ${key.toUpperCase()}` })).toBeVisible({ timeout: 2000 });
  }).toPass();
  const changes = page.getByRole("table", { name: `What applying changes in ${key.toUpperCase()}` });
  // DEV's seed has resources granted to groups: both appear as creations.
  await expect(changes.getByRole("row").filter({ hasText: "resource" }).first()).toContainText("Create");
  await expect(changes.getByRole("row").filter({ hasText: "grant" }).first()).toContainText("Create");
  await expect(page.getByTestId("plan-summary")).toContainText(/\d+ to create, \d+ to change, 0 to remove/);
  await page.screenshot({ path: test.info().outputPath("promotion-plan.png"), fullPage: true });

  await page.getByRole("button", { name: new RegExp(`^Apply \\d+ changes? to ${key.toUpperCase()}$`) }).click();
  await expect(page.getByText(new RegExp(`^Promoted into ${key.toUpperCase()}: \\d+ changes? applied\\.$`))).toBeVisible();
  await expect(page.getByTestId("plan-summary")).toHaveText(`No changes: ${key.toUpperCase()} already matches DEV.`);

  // One audit entry for the promotion, with the plan's hash.
  await page.goto(`${baseUrl()}/console/${key}/audit?action=environment.promote`);
  await expect(page.getByText("environment.promote").first()).toBeVisible();
});
