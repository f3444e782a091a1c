import { createHash } from "node:crypto";
import { expect, test } from "@playwright/test";
import { acceptInvitation, addAuthenticatorApp, baseUrl, inviteMember, owner, seriousViolations, signIn, signInAsOwner, signInWithCode, unique } from "./helpers";

/**
 * A UTC time as a datetime-local input keeps it: Chromium drops ":00" seconds ("…T03:01", not
 * "…T03:01:00"), and Playwright's fill refuses a value the input does not read back as given.
 */
const datetimeLocal = (d: Date) => d.toISOString().slice(0, 19).replace(/:00$/, "");


test("an access review revokes a membership at closing, keeps a signed-off report, and the history shows the member before", async ({ page }) => {
  test.setTimeout(120_000);
  const id = unique();
  const group = `Reviewed ${id}`;
  const email = `reviewed.${id}@example.com`;
  await signInAsOwner(page);
  // A PROD group with one new member.
  await page.goto(`${baseUrl()}/console/prod/groups`);
  await page.getByLabel("New group").fill(group);
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("link", { name: group, exact: true })).toBeVisible();
  await page.goto(`${baseUrl()}/console/prod/users`);
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
  // The owner by name: other specs add members, and a list's first is anyone's.
  await form.getByRole("group", { name: "Reviewers" }).getByRole("checkbox", { name: new RegExp(owner().email.replace(/[.+]/g, "\\$&")) }).check();
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
  const serious = await seriousViolations(page);
  expect(serious).toEqual([]);
  const beforeClose = datetimeLocal(new Date());

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
  await history.getByLabel("As of (UTC)").fill(datetimeLocal(new Date(Date.now() + 5_000)));
  await history.getByRole("button", { name: "Show" }).click();
  await expect(page.getByTestId("history-rows")).toContainText("Nothing held at that moment.");
});

test("a revoked SCIM membership stays revoked: the reviewer's revocation survives the next PATCH (the rest applied), the request log and the user's page say why, and an admin lifts it", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const id = unique();
  await signInAsOwner(page);
  // A PROD directory, made in the console.
  await page.goto(`${baseUrl()}/console/prod/directories`);
  await page.getByLabel("Directory name").fill(`Okta ${id}`);
  await page.getByRole("button", { name: "Create directory" }).click();
  const token = await page.getByTestId("scim-token").innerText();
  const base = await page.getByTestId("scim-base-url").innerText();
  const directoryId = base.split("/").at(-1)!;
  const scim = async (method: string, path: string, data?: unknown) => {
    const res = await page.request.fetch(`${base}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" }, data: data === undefined ? undefined : JSON.stringify(data) });
    expect(res.status(), `${method} ${path}`).toBeLessThan(300);
    return res.status() === 204 ? null : res.json();
  };
  const [ann, bob, cat] = await Promise.all(["ann", "bob", "cat"].map(async (n) => (await scim("POST", "/Users", { userName: `${n}.${id}@corp.example`, displayName: `${n} ${id}` })).id as string));
  const groupName = `Payments ${id}`;
  const group = await scim("POST", "/Groups", { displayName: groupName, members: [{ value: ann }, { value: bob }] });

  // The review's reviewer and PROD's environment admin: the owner invites them; each accepts the
  // link, adds an authenticator app (codes computed from the key shown) and signs in with a code.
  const password = "amber kites over the quiet bay";
  const join = async (email: string, name: string, link: string) => {
    const context = await browser.newContext();
    const member = await context.newPage();
    await acceptInvitation(member, link, name, password);
    await signIn(member, email, password);
    await expect(member).toHaveURL(/\/console\/dev$/);
    const secret = await addAuthenticatorApp(member, "Phone");
    await context.clearCookies();
    await signInWithCode(member, email, password, secret);
    await expect(member).toHaveURL(/\/console\/dev$/);
    return { context, member };
  };
  const reviewerEmail = `reviewer.${id}@example.com`;
  const envAdminEmail = `prod.admin.${id}@example.com`;
  const reviewerLink = await inviteMember(page, { email: reviewerEmail, role: "Reviewer" });
  const envAdminLink = await inviteMember(page, { email: envAdminEmail, role: "Environment admin", environments: ["PROD"] });
  const { context: reviewerContext, member: reviewer } = await join(reviewerEmail, `Rae Reviewer ${id}`, reviewerLink);
  const { context: envAdminContext, member: envAdmin } = await join(envAdminEmail, `Pia Prod ${id}`, envAdminLink);
  // The environment admin changes PROD and only reads DEV; the reviewer changes nothing.
  await envAdmin.goto(`${baseUrl()}/console/prod/users`);
  await expect(envAdmin.getByRole("button", { name: "Add user" })).toBeVisible();
  await envAdmin.goto(`${baseUrl()}/console/dev/users`);
  await expect(envAdmin.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
  await expect(envAdmin.getByRole("button", { name: "Add user" })).toHaveCount(0);
  // Nor does DEV's page offer what the server would refuse row by row: an import, a selection for bulk actions.
  await expect(envAdmin.getByRole("link", { name: "Import CSV" })).toHaveCount(0);
  await expect(envAdmin.getByRole("row").nth(1)).toBeVisible();
  await expect(envAdmin.getByRole("checkbox")).toHaveCount(0);
  await envAdmin.goto(`${baseUrl()}/console/dev/users/import`);
  await expect(envAdmin.getByRole("alert").filter({ hasText: "Your role does not let you add users to DEV" })).toBeVisible();
  // PROD's page offers both; a bulk grant or revoke names PROD only.
  await envAdmin.goto(`${baseUrl()}/console/prod/users`);
  await expect(envAdmin.getByRole("link", { name: "Import CSV" })).toBeVisible();
  await envAdmin.getByRole("row").nth(1).getByRole("checkbox").check();
  const bulk = envAdmin.getByRole("region", { name: "Bulk actions" });
  await bulk.getByLabel("Action").selectOption({ label: "Grant environment" });
  await expect(bulk.getByRole("combobox", { name: /^Environment/ }).locator("option")).toHaveText(["PROD"]);
  await envAdminContext.close();
  await reviewer.goto(`${baseUrl()}/console/prod/users`);
  await expect(reviewer.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
  await expect(reviewer.getByRole("button", { name: "Add user" })).toHaveCount(0);

  // The owner starts a review of the group with the reviewer; the reviewer revokes bob's
  // membership; the owner closes the campaign.
  await page.goto(`${baseUrl()}/console/prod/reviews`);
  const form = page.getByRole("form", { name: "New access review" });
  await form.getByLabel("Review name").fill(`Sticky ${id}`);
  await form.getByLabel("Due date").fill(new Date(Date.now() + 7 * 86_400_000).toISOString().slice(0, 10));
  await form.getByRole("checkbox", { name: new RegExp(`^${groupName}`) }).check();
  await form.getByRole("group", { name: "Reviewers" }).getByRole("checkbox", { name: new RegExp(reviewerEmail.replace(/[.+]/g, "\\$&")) }).check();
  await form.getByLabel("Repeat").selectOption("3");
  await form.getByRole("button", { name: "Start review" }).click();
  await expect(page.getByRole("heading", { name: `Sticky ${id}` })).toBeVisible();
  await expect(page.getByText("repeats every 3 months")).toBeVisible();
  const label = `bob.${id}@corp.example in ${groupName}`;
  await reviewer.goto(page.url());
  await reviewer.getByRole("textbox", { name: `Comment on ${label}` }).fill("Moved to the sales team");
  await reviewer.getByRole("button", { name: `Revoke ${label}` }).click();
  await expect(reviewer.getByTestId("review-items")).toContainText("“Moved to the sales team”");
  await reviewerContext.close();
  await page.reload();
  await expect(page.getByTestId("review-items")).toContainText("“Moved to the sales team”");
  await page.getByRole("button", { name: "Close review" }).click();
  await page.getByRole("dialog", { name: "Close this review?" }).getByRole("button", { name: "Close and apply" }).click();
  await expect(page.getByText("Closed: 1 revoked, 0 already gone. 1 excluded from directory or IdP sync.")).toBeVisible();
  await expect(page.getByTestId("review-items")).toContainText("Excluded from the directory's sync");
  expect(await (await page.request.get(`${page.url()}/report`)).text()).toMatch(/,revoked,[^,]+,[^,]+,directory sync excluded/);
  // Toasts fade out (their colours mid-fade are not the page's): axe reads the page once they are gone.
  await expect(page.locator("[data-sonner-toast]")).toHaveCount(0, { timeout: 15_000 });
  const reviewAxe = await seriousViolations(page);
  expect(reviewAxe).toEqual([]);

  // The directory adds bob and cat back in one PATCH: cat is added, bob is left out.
  await scim("PATCH", `/Groups/${group.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: bob }, { value: cat }] }] });
  const members = ((await scim("GET", `/Groups/${group.id}`)).members as { value: string }[]).map((m) => m.value).sort();
  expect(members).toEqual([ann, cat].sort());

  // The directory's request log says who was left out and why.
  await page.goto(`${baseUrl()}/console/prod/directories/${directoryId}`);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("excluded-members").first()).toContainText(`Left out bob.${id}@corp.example: excluded by access review "Sticky ${id}": Moved to the sales team`, { timeout: 1_000 });
  }).toPass();
  const directoryAxe = await seriousViolations(page);
  expect(directoryAxe).toEqual([]);

  // Bob's page shows the exclusion with its reason; lifting it lets the next PATCH add bob.
  await page.goto(`${baseUrl()}/console/prod/users/${bob}`);
  const exclusions = page.getByTestId("user-exclusions");
  await expect(exclusions).toContainText(`${groupName} (PROD)`);
  await expect(exclusions).toContainText("Moved to the sales team");
  await expect(exclusions).toContainText(`Sticky ${id}`);
  const userAxe = await seriousViolations(page);
  expect(userAxe).toEqual([]);
  await exclusions.getByRole("button", { name: `Lift exclusion from ${groupName} (PROD)` }).click();
  await page.getByRole("dialog", { name: "Lift this exclusion?" }).getByRole("button", { name: "Lift exclusion" }).click();
  await expect(page.getByText("Exclusion lifted.")).toBeVisible();
  await expect(exclusions).toContainText("Lifted by");
  await scim("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: bob }] }] });
  expect(((await scim("GET", `/Groups/${group.id}`)).members as { value: string }[]).map((m) => m.value).sort()).toEqual([ann, bob, cat].sort());
});
