import { createHash } from "node:crypto";
import AxeBuilder from "@axe-core/playwright";
import { expect, test } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

const unique = () => Date.now().toString(36) + Math.random().toString(36).slice(2, 6);

test("an access review revokes a membership at closing, keeps a signed-off report, and the history shows the member before", async ({ page }) => {
  test.setTimeout(120_000);
  const id = unique();
  const group = `Reviewed ${id}`;
  const email = `reviewed.${id}@example.com`;
  await signInAsOwner(page);
  // A PROD group with one new member.
  await page.goto(`${baseUrl()}/console/prod/users`);
  await page.getByLabel("New group").fill(group);
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("link", { name: group, exact: true })).toBeVisible();
  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a user" });
  await dialog.getByLabel("Full name").fill(`Reviewed ${id}`);
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByRole("combobox", { name: "Groups in PROD" }).fill(group);
  await dialog.getByRole("option", { name: new RegExp(group) }).click();
  await dialog.getByRole("button", { name: "Add user" }).click();
  await expect(dialog).toBeHidden();

  // A campaign over that group, with the owner as reviewer; a bad due date is a field error first.
  await page.goto(`${baseUrl()}/console/prod/reviews`);
  const form = page.getByRole("form", { name: "New access review" });
  await form.getByLabel("Review name").fill(`Review ${id}`);
  await form.getByLabel("Due date").fill("2020-01-01");
  await form.getByRole("checkbox", { name: new RegExp(`^${group}`) }).check();
  await form.getByRole("group", { name: "Reviewers" }).getByRole("checkbox").first().check();
  await form.getByRole("button", { name: "Start review" }).click();
  await expect(form.getByText("The due date must be in the future.")).toBeVisible();
  await form.getByLabel("Due date").fill(new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10));
  await form.getByRole("button", { name: "Start review" }).click();
  await expect(page.getByRole("heading", { name: `Review ${id}` })).toBeVisible();
  await expect(page.getByRole("progressbar", { name: "Decided" })).toHaveAttribute("aria-valuenow", "0");
  const reviewUrl = page.url();

  // Revoking needs a reason.
  const label = `${email} in ${group}`;
  await page.getByRole("button", { name: `Revoke ${label}` }).click();
  await expect(page.getByText("Say why this access should be revoked.").first()).toBeVisible();
  await page.getByRole("textbox", { name: `Comment on ${label}` }).fill("Left the payments team");
  await page.getByRole("button", { name: `Revoke ${label}` }).click();
  await expect(page.getByTestId("review-items")).toContainText("“Left the payments team”");
  await expect(page.getByRole("progressbar", { name: "Decided" })).toHaveAttribute("aria-valuenow", "1");
  const serious = (await new AxeBuilder({ page }).analyze()).violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
  expect(serious).toEqual([]);
  const beforeClose = new Date().toISOString().slice(0, 19);

  await page.getByRole("button", { name: "Close review" }).click();
  await page.getByRole("dialog", { name: "Close this review?" }).getByRole("button", { name: "Close and apply" }).click();
  await expect(page.getByText("Closed: 1 revoked, 0 already gone.")).toBeVisible();
  await expect(page.getByTestId("review-items")).toContainText("revoked");

  // The signed-off report, with its hash.
  const report = await page.request.get(`${reviewUrl}/report`);
  const csv = await report.text();
  expect(report.headers()["x-content-sha256"]).toBe(createHash("sha256").update(csv).digest("hex"));
  expect(csv).toContain(`${email},Reviewed ${id},${group},,,revoke,Left the payments team`);
  expect(csv).toMatch(/,revoked,[^,]+,\d{4}-/);

  // The group no longer has the member; as of before the closing it did.
  await page.goto(`${baseUrl()}/console/prod/history`);
  const history = page.getByRole("form", { name: "Memberships as of a date" });
  await history.locator("select[name=group]").selectOption({ label: group });
  await history.getByLabel("As of (UTC)").fill(beforeClose);
  await history.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("history-rows")).toContainText(email);
  const exported = await page.request.get(`${baseUrl()}/console/prod/history/export?${new URL(page.url()).searchParams}`);
  expect(await exported.text()).toContain(`member,${email},Reviewed ${id},${group}`);
  await history.getByLabel("As of (UTC)").fill(new Date(Date.now() + 5_000).toISOString().slice(0, 19));
  await history.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("history-rows")).toContainText("Nothing held at that moment.");
});
