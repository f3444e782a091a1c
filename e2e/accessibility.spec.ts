import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

const PAGES = [
  "/console/dev",
  "/console/dev/users",
  "/console/prod/users?status=active&sort=name&dir=asc",
  "/console/dev/users/import",
  "/console/dev/audit",
  "/console/dev/audit?action=user.&outcome=success",
  "/console/dev/settings",
  "/console/dev/identity-providers",
  "/console/dev/directories",
  "/console/dev/access",
  "/console/dev/access?feature=mcp",
  "/console/dev/access-requests",
  "/console/test/promote",
  "/console/dev/groups",
  "/console/dev/groups?q=eng",
  "/console/dev/reviews",
  "/console/dev/history",
  "/console/dev/history?subject=user&user=nobody%40example.com&at=2026-01-01T00%3A00%3A00",
  // A member's own security, and the owners' console policy and console SSO.
  "/console/security",
];

async function seriousViolations(page: Page, path: string): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${path}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
}

for (const theme of ["light", "dark"] as const) {
  test(`console pages have no serious or critical accessibility violations (${theme} theme)`, async ({ page, context }) => {
    test.setTimeout(480_000); // axe takes several seconds a page on this machine
    // The theme a person chose is a cookie the root layout reads (components/theme-toggle.tsx).
    await context.addCookies([{ name: "iam_theme", value: theme, url: baseUrl() }]);
    await signInAsOwner(page);
    await expect(page.locator("html")).toHaveAttribute("data-theme", theme);
    // The user panel and a group page, reached from their lists.
    await page.goto(`${baseUrl()}/console/dev/users?sort=email&dir=asc`);
    const userHref = await page.locator('table a[href*="/users/"]').first().getAttribute("href");
    await page.goto(`${baseUrl()}/console/dev/groups`);
    const groupHref = await page.getByRole("link", { name: "Engineering", exact: true }).getAttribute("href");
    await page.goto(`${baseUrl()}/console/dev/access`);
    const resourceHref = await page.locator('table a[href*="/access/"]').first().getAttribute("href");
    const serious: string[] = [];
    for (const path of [...PAGES, userHref!, groupHref!, resourceHref!, `${resourceHref}?tab=who`, `${resourceHref}?tab=explain`]) {
      await page.goto(`${baseUrl()}${path}`);
      await expect(page.locator("main h1")).toBeVisible();
      serious.push(...(await seriousViolations(page, path)));
    }
    await page.goto(`${baseUrl()}/console/dev/users`);
    await page.screenshot({ path: test.info().outputPath(`users-${theme}.png`), fullPage: true });
    // The console sign-in and the end users' pages (no console session needed).
    const signIn = await context.newPage();
    for (const path of ["/sign-in", "/e/dev/sign-in", "/e/dev/sign-in?email=someone%40example.com", "/e/dev/forgot"]) {
      await signIn.goto(`${baseUrl()}${path}`);
      serious.push(...(await seriousViolations(signIn, path)));
    }
    expect(serious).toEqual([]);
  });
}

test("the theme follows the system until chosen, and the choice sticks", async ({ page }) => {
  await page.emulateMedia({ colorScheme: "dark" });
  await signInAsOwner(page);
  const html = page.locator("html");
  await expect(html).toHaveAttribute("data-theme", "system");
  // The page's background as sRGB (a canvas converts whatever colour space the browser reports).
  const background = () =>
    page.evaluate(() => {
      const ctx = document.createElement("canvas").getContext("2d")!;
      ctx.fillStyle = getComputedStyle(document.body).backgroundColor;
      ctx.fillRect(0, 0, 1, 1);
      return Array.from(ctx.getImageData(0, 0, 1, 1).data.slice(0, 3));
    });
  expect(await background()).toEqual([2, 6, 23]); // the system is dark
  await expect(async () => {
    await page.getByLabel("Theme").selectOption("light");
    await expect(html).toHaveAttribute("data-theme", "light", { timeout: 1000 });
  }).toPass();
  expect((await background()).every((c) => c >= 245)).toBe(true); // light
  await page.reload();
  await expect(html).toHaveAttribute("data-theme", "light");
});

test("the table and dialogs work from the keyboard", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  // Sort by name: focus the header button and press Enter.
  await page.getByRole("button", { name: "Name", exact: true }).focus();
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/sort=name/);
  // The sorted rows replace the first ones once the server answers: select in those, not in rows about to go.
  await expect(page.getByRole("columnheader", { name: /^Name/ })).toHaveAttribute("aria-sort", "ascending");
  await page.waitForLoadState("networkidle");
  // Select a row with Space.
  await page.getByRole("checkbox", { name: /^Select row/ }).first().focus();
  await page.keyboard.press("Space");
  await expect(page.getByTestId("selected-count")).toHaveText("1 selected");
  // Open the add-user dialog with Enter, find focus inside it, close it with Escape.
  await page.getByRole("button", { name: "Add user" }).focus();
  await page.keyboard.press("Enter");
  const dialog = page.getByRole("dialog", { name: "Add a user" });
  await expect(dialog).toBeVisible();
  await expect(dialog.locator(":focus")).toHaveCount(1);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  // The group picker: type, arrow down, Enter picks.
  await page.getByRole("combobox", { name: /Member of a group/ }).fill("Eng");
  await expect(page.getByRole("listbox").getByRole("option").first()).toBeVisible();
  await page.keyboard.press("ArrowDown");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/group=/);
});
