import { expect, test } from "@playwright/test";
import { baseUrl, owner } from "./helpers";

// After a real sign-in the browser goes where ?callbackUrl= says only when that is the console's
// own origin (lib/net/redirect). Each spelling below is written as it appears in the sign-in URL's
// query; browsers turn the first ones into another origin ("/\" and a tab are read as "//").
const SPELLINGS = [
  "/\\evil.example",
  "/%09/evil.example",
  "/%5Cevil.example",
  "/%255Cevil.example",
  "//evil.example",
  "/%2F%2Fevil.example",
  "https:evil.example",
  "http://evil.example/",
  "javascript:alert(document.domain)",
];

for (const spelling of SPELLINGS) {
  test(`signing in with callbackUrl=${spelling} lands on the console`, async ({ page, context }) => {
    // Should the browser leave, it finds a page there (no DNS needed) and the URL check below says where it went.
    await context.route(/^https?:\/\/evil\.example\//, (route) => route.fulfill({ contentType: "text/html", body: "<h1>evil.example</h1>" }));
    const dialogs: string[] = [];
    page.on("dialog", (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    await page.goto(`${baseUrl()}/sign-in?callbackUrl=${spelling}`);
    await page.getByLabel("Email").fill(owner().email);
    await page.getByLabel("Password").fill(owner().password);
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    // /console sends a signed-in member on to the first environment.
    await expect(page).toHaveURL(`${baseUrl()}/console/dev`);
    await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
    expect(dialogs).toEqual([]);
  });
}

test("a callbackUrl of the console itself is kept", async ({ page }) => {
  await page.goto(`${baseUrl()}/sign-in?callbackUrl=${encodeURIComponent("/console/prod/users")}`);
  await page.getByLabel("Email").fill(owner().email);
  await page.getByLabel("Password").fill(owner().password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(`${baseUrl()}/console/prod/users`);
});
