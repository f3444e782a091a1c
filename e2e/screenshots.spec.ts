import { expect, test, type Page } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// The look of the main screens, compared with the committed pictures (e2e/screenshots.spec.ts-snapshots/),
// so a change of look is seen, not stumbled upon. This project runs first, on the freshly seeded demo
// (playwright.config.ts), so the data is the seed's; what changes by the clock or the port (dates,
// times, charts by day, URLs) is masked. After a deliberate change of look:
// `npx playwright test e2e/screenshots.spec.ts --update-snapshots`, and look at the pictures.

test.describe.configure({ mode: "serial" });

const variable = (page: Page) => [
  page.getByText(/\d{4}-\d{2}-\d{2}/),
  page.getByText(/\d{1,2}:\d{2}/),
  page.getByText(/localhost:\d+/),
  page.locator("svg.recharts-surface"),
];

const SCREENS: [string, string][] = [
  ["overview", "/console/dev"],
  ["users", "/console/dev/users?sort=email&dir=asc"],
  ["groups", "/console/dev/groups"],
  ["access", "/console/dev/access"],
  ["promote", "/console/prod/promote?from=dev"],
];

for (const theme of ["light", "dark"] as const) {
  test(`the main screens look as they did (${theme})`, async ({ page, context }) => {
    test.setTimeout(120_000);
    await context.addCookies([{ name: "iam_theme", value: theme, url: baseUrl() }]);
    await page.setViewportSize({ width: 1280, height: 900 });
    for (const [name, path] of [["sign-in", "/sign-in"] as [string, string]]) {
      await page.goto(`${baseUrl()}${path}`);
      await expect(page).toHaveScreenshot(`${name}-${theme}.png`, { mask: variable(page), maxDiffPixelRatio: 0.01 });
    }
    await signInAsOwner(page);
    for (const [name, path] of SCREENS) {
      await page.goto(`${baseUrl()}${path}`);
      await expect(page.locator("main h1")).toBeVisible();
      await expect(page).toHaveScreenshot(`${name}-${theme}.png`, { fullPage: true, mask: variable(page), maxDiffPixelRatio: 0.01, animations: "disabled" });
    }
  });
}
