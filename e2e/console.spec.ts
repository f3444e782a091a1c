import { expect, test } from "@playwright/test";
import { baseUrl, owner, signIn, signInAsOwner } from "./helpers";

test("the owner signs in with the printed credentials, switches environment and signs out", async ({ page, context }) => {
  await page.goto(`${baseUrl()}/console`);
  await expect(page).toHaveURL(/\/sign-in\?callbackUrl=%2Fconsole/);

  await signInAsOwner(page);
  const switcher = page.getByTestId("environment-switcher");
  // The seed's three, in order (promotion.spec.ts may add a fourth meanwhile).
  await expect(switcher.locator("option").nth(2)).toHaveText("PROD");
  expect((await switcher.locator("option").allTextContents()).slice(0, 3)).toEqual(["DEV", "TEST", "PROD"]);
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
  await expect(page.getByTestId("users-dev")).toHaveText("50");

  const cookies = await context.cookies();
  const session = cookies.find((c) => c.name === "next-auth.session-token");
  expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false });

  await page.getByRole("link", { name: "Users", exact: true }).click();
  await expect(page).toHaveURL(/\/console\/dev\/users$/);
  await switcher.selectOption("prod");
  await expect(page).toHaveURL(/\/console\/prod\/users$/);
  await expect(page.getByText("Who may enter PROD.")).toBeVisible();

  await page.getByRole("button", { name: /Account menu/ }).click();
  await page.getByRole("menuitem", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/sign-in/);
  await page.goto(`${baseUrl()}/console/prod`);
  await expect(page).toHaveURL(/\/sign-in/);
});

test("a wrong password shows an error and opens no session", async ({ page, context }) => {
  await signIn(page, owner().email, "definitely-not-the-password");
  await expect(page.getByRole("alert").filter({ hasText: "Wrong email or password" })).toBeVisible();
  expect((await context.cookies()).some((c) => c.name.includes("session-token"))).toBe(false);
  await page.goto(`${baseUrl()}/console/dev`);
  await expect(page).toHaveURL(/\/sign-in/);
});

test("an admin adds a user: a taken email is a field error, a new one appears in the list", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const form = page.getByRole("dialog", { name: "Add a user" });
  await form.getByLabel("Full name").fill("Duplicate Person");
  await form.getByLabel("Email").fill("OLIVIA.SMITH@example.com");
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(form.getByText("A user with this email already exists.")).toBeVisible();

  const email = `e2e.${Date.now()}@example.com`;
  await form.getByLabel("Full name").fill("Edda Endtoend");
  await form.getByLabel("Email").fill(email);
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(form).toBeHidden();
  await page.getByLabel("Search").fill(email);
  await expect(page).toHaveURL(/[?&]q=e2e\./);
  await expect(page.getByRole("cell", { name: email })).toBeVisible();
});

test("Add a user can be cancelled, writing nothing; every console page has an icon and no 404 on the way", async ({ page }) => {
  const missing: string[] = [];
  page.on("response", (r) => {
    if (r.status() === 404) missing.push(r.url());
  });
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  const icon = await page.locator('link[rel="icon"]').first().getAttribute("href");
  const served = await page.request.get(new URL(icon!, baseUrl()).toString());
  expect([served.status(), served.headers()["content-type"]]).toEqual([200, "image/svg+xml"]);

  await page.getByRole("button", { name: "Add user" }).click();
  const form = page.getByRole("dialog", { name: "Add a user" });
  await form.getByLabel("Full name").fill("Never Added");
  await form.getByLabel("Email").fill(`never.${Date.now()}@example.com`);
  await form.getByRole("button", { name: "Cancel" }).click();
  await expect(form).toBeHidden();
  await page.getByLabel("Search").fill("Never Added");
  await expect(page).toHaveURL(/[?&]q=Never/);
  await expect(page.getByRole("cell", { name: "No user matches “Never Added”." })).toBeVisible();
  await expect(page.getByRole("cell", { name: "Never Added", exact: true })).toHaveCount(0);
  expect(missing).toEqual([]);
});
