import { expect, test } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// A newcomer's first minutes on a fresh `npm start` (global-setup: a fresh data folder, the printed
// credentials): sign in to the console, then sign in to TEST by SSO through the demo's own IdP as a
// demo user, and see that sign-in in the console's audit trail and sign-in chart.

test("fresh start: the owner signs in; a demo user signs in to TEST by SSO through the demo IdP; the console shows it", async ({ page, browser }) => {
  await signInAsOwner(page);
  // The demo is coherent: TEST signs in by SSO with the demo IdP, PROD with passwords until an IdP is connected.
  await page.goto(`${baseUrl()}/console/test/settings`);
  const auth = page.getByRole("form", { name: "Authentication for TEST" });
  await expect(auth.getByLabel("Identity provider")).toHaveValue(/.+/);
  await expect(auth.getByLabel("Identity provider").locator("option:checked")).toHaveText("Demo IdP (built in, not for production)");

  const context = await browser.newContext();
  const endUser = await context.newPage();
  await endUser.goto(`${baseUrl()}/e/test/sign-in`);
  await endUser.getByLabel("Email").fill("someone@example.com");
  await endUser.getByRole("button", { name: "Continue" }).click();
  await expect(endUser).toHaveURL(new RegExp(`^${baseUrl()}/demo-idp/sso\\?.*SAMLRequest=`));
  await expect(endUser.getByRole("note")).toContainText("Demo IdP. Built into this demo");
  const first = endUser.getByRole("list", { name: "Demo users" }).getByRole("button").first();
  const name = (await first.innerText()).replace(/^Sign in as /, "").split("\n")[0]!.replace(/\s+\S+@\S+.*$/, "").trim();
  await endUser.screenshot({ path: test.info().outputPath("demo-idp.png"), fullPage: true });
  await first.click();
  await expect(endUser).toHaveURL(`${baseUrl()}/e/test`);
  await expect(endUser.getByRole("heading", { name: `Welcome, ${name}` })).toBeVisible();
  await endUser.screenshot({ path: test.info().outputPath("signed-in-to-test.png"), fullPage: true });
  await context.close();

  // The console: the sign-in in TEST's audit trail and in its sign-in chart.
  await page.goto(`${baseUrl()}/console/test/audit?action=end_user.sign_in`);
  await expect(page.getByTestId("audit-events").getByRole("row").filter({ hasText: "end_user.sign_in" }).first()).toContainText("success");
  await page.goto(`${baseUrl()}/console/test`);
  await expect(page.getByTestId("no-sign-ins")).toHaveCount(0);
  await expect(page.locator("figcaption").filter({ hasText: "SSO sign-ins" })).toContainText(/[1-9]\d* SSO sign-ins/);
  await page.screenshot({ path: test.info().outputPath("overview-test.png"), fullPage: true });
});
