import { expect, test, type Page } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// ⌘K / Ctrl-K, keyboard only: jump to a group found on the server, run "Add a user", switch environment.

/** Opens the palette with Ctrl-K (a press before hydration does nothing: press until it shows). */
async function openPalette(page: Page) {
  const dialog = page.getByRole("dialog", { name: "Command palette" });
  await expect(async () => {
    if (!(await dialog.isVisible())) await page.keyboard.press("Control+k");
    await expect(dialog).toBeVisible({ timeout: 1000 });
  }).toPass();
  return dialog;
}

test("the command palette finds on the server and runs the common actions from the keyboard", async ({ page }) => {
  await signInAsOwner(page);
  let palette = await openPalette(page);
  await page.keyboard.type("engineer");
  // Found on the server: DEV's Engineering group, the only match (no page or action says "engineer").
  await expect(palette.getByRole("option")).toHaveText([/^Engineering\s*group · \d+ members$/]);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/console\/dev\/groups\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: "Engineering", level: 1 })).toBeVisible();

  await page.goto(`${baseUrl()}/console/dev`);
  palette = await openPalette(page);
  await page.keyboard.type("add a user");
  await expect(palette.getByRole("option")).toHaveText(["Add a user"]);
  await page.keyboard.press("Enter");
  await expect(page.getByRole("dialog", { name: "Add a user" })).toBeVisible();
  await page.keyboard.press("Escape");

  palette = await openPalette(page);
  await page.keyboard.type("switch to prod");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/console\/prod$/);
});
