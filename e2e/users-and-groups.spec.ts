import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import postgres from "postgres";
import { baseUrl, signInAsOwner, unique } from "./helpers";

/** Opens the Filters popover (a click before hydration does nothing: click until its panel shows). */
async function openFilters(page: Page) {
  const panel = page.getByRole("dialog", { name: "Filters" });
  await expect(async () => {
    if (!(await panel.isVisible())) await page.getByRole("button", { name: /^Filters/ }).click();
    await expect(panel).toBeVisible({ timeout: 1000 });
  }).toPass();
  return panel;
}


async function createGroup(page: Page, env: string, name: string) {
  await page.goto(`${baseUrl()}/console/${env}/groups`);
  await page.getByLabel("New group").fill(name);
  await page.getByRole("button", { name: "Create group" }).click();
  await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
}

test("create a user with two environments and groups, then find it by search", async ({ page }) => {
  const id = unique();
  await signInAsOwner(page);
  await createGroup(page, "dev", `Team ${id}`);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const dialog = page.getByRole("dialog", { name: "Add a user" });
  await dialog.getByLabel("Full name").fill(`Two Envs ${id}`);
  await dialog.getByLabel("Email").fill(`two.envs.${id}@example.com`);
  await dialog.getByRole("checkbox", { name: "PROD" }).check();
  await dialog.getByRole("combobox", { name: "Groups in DEV" }).fill(`Team ${id}`);
  await dialog.getByRole("option", { name: new RegExp(`Team ${id}`) }).click();
  await dialog.getByRole("combobox", { name: "Groups in PROD" }).fill("Support");
  await dialog.getByRole("option", { name: /^Support/ }).click();
  await expect(dialog.getByRole("list", { name: "Groups in PROD: chosen" })).toContainText("Support");
  await dialog.getByRole("button", { name: "Add user" }).click();
  await expect(dialog).toBeHidden();

  await page.getByLabel("Search").fill(`two.envs.${id}`);
  const row = page.getByRole("row", { name: new RegExp(`two\\.envs\\.${id}`) });
  await expect(row).toBeVisible();
  await expect(row).toContainText("DEV");
  await expect(row).toContainText("PROD");
  await expect(row).toContainText(`Team ${id}`);
  await expect(page.getByTestId("table-total")).toHaveText("1 user");
  await page.goto(`${baseUrl()}/console/prod/users?q=two.envs.${id}`);
  await expect(page.getByRole("row", { name: new RegExp(`two\\.envs\\.${id}`) })).toContainText("Support");
});

test("bulk-add three users to a group, then remove one", async ({ page }) => {
  const id = unique();
  await signInAsOwner(page);
  await createGroup(page, "dev", `Bulk ${id}`);
  // The three oldest demo users, sorted by email.
  await page.goto(`${baseUrl()}/console/dev/users?sort=email&dir=asc&size=25`);
  const checkboxes = page.getByRole("checkbox", { name: /^Select row/ });
  for (let i = 0; i < 3; i++) await checkboxes.nth(i).check();
  await expect(page.getByTestId("selected-count")).toHaveText("3 selected");
  await page.getByRole("combobox", { name: "Group", exact: true }).fill(`Bulk ${id}`);
  await page.getByRole("option", { name: new RegExp(`Bulk ${id}`) }).click();
  await page.getByRole("button", { name: "Apply…" }).click();
  const confirm = page.getByRole("dialog", { name: "Add to group" });
  await expect(confirm).toContainText(`Add 3 users to Bulk ${id}.`);
  await confirm.getByRole("button", { name: "Add to group (3)" }).click();
  await expect(page.getByTestId("bulk-summary")).toHaveText("3 changed, 0 already so, 0 failed.");
  await page.getByRole("button", { name: "Close" }).click();

  await page.goto(`${baseUrl()}/console/dev/groups?q=${encodeURIComponent(`Bulk ${id}`)}`);
  await page.getByRole("link", { name: `Bulk ${id}`, exact: true }).click();
  await expect(page.getByRole("heading", { name: `Bulk ${id}` })).toBeVisible();
  await expect(page.getByTestId("table-total")).toHaveText("3 users");
  await page.getByRole("checkbox", { name: /^Select row/ }).first().check();
  await page.getByRole("button", { name: "Apply…" }).click();
  await page.getByRole("dialog", { name: "Remove from group" }).getByRole("button", { name: "Remove from group (1)" }).click();
  await expect(page.getByTestId("bulk-summary")).toHaveText("1 changed, 0 already so, 0 failed.");
  await page.getByRole("button", { name: "Close" }).click();
  await expect(page.getByTestId("table-total")).toHaveText("2 users");
});

test("import a CSV with one bad row: the dry run shows it, the apply imports the rest, the report downloads", async ({ page }, info) => {
  const id = unique();
  await signInAsOwner(page);
  const csv = ["email,name,environments", `imp.a.${id}@example.com,Import A,dev`, `not-an-email,Import Bad,dev`, `imp.b.${id}@example.com,Import B,dev;test`].join("\n");
  const file = info.outputPath("users.csv");
  fs.writeFileSync(file, csv);
  await page.goto(`${baseUrl()}/console/dev/users/import`);
  await page.getByLabel("CSV file (UTF-8)").setInputFiles(file);
  await expect(page.getByLabel("Email (required)")).toHaveValue("email");
  await page.getByRole("button", { name: "Dry run" }).click();
  await expect(page.getByTestId("dry-run-summary")).toHaveText("3 rows: 2 to create, 0 to update, 0 unchanged, 1 with errors.");
  await expect(page.getByRole("row", { name: /not-an-email/ })).toContainText("enter a valid email address");
  await page.getByRole("button", { name: "Apply the import" }).click();
  await expect(page.getByTestId("import-summary")).toContainText("2 created");
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Download the report" }).click();
  const report = fs.readFileSync(await (await download).path(), "utf8");
  expect(report.split("\n")[0]).toBe("row,email,outcome,detail");
  expect(report).toContain(`1,imp.a.${id}@example.com,create`);
  expect(report).toContain("2,not-an-email,error,enter a valid email address");

  await page.goto(`${baseUrl()}/console/dev/users?q=imp.b.${id}`);
  await expect(page.getByRole("row", { name: new RegExp(`imp\\.b\\.${id}`) })).toContainText("TEST");
});

test("export the filtered users as CSV", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/users?q=smith&sort=email&dir=asc`);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export CSV" }).click();
  const text = fs.readFileSync(await (await download).path(), "utf8");
  const lines = text.trim().split("\n");
  expect(lines[0]).toBe("id,email,name,status,source,environments,groups_prod,last_sign_in_at,created_at");
  expect(lines.length).toBeGreaterThan(1);
  for (const line of lines.slice(1)) expect(line.toLowerCase()).toContain("smith");
});

test("delete a group with members from its page, typing its name; it leaves the list and its members' pages", async ({ page }) => {
  const id = unique();
  await signInAsOwner(page);
  await createGroup(page, "test", `Doomed ${id}`);
  await page.getByRole("link", { name: `Doomed ${id}`, exact: true }).click();
  await page.getByRole("combobox", { name: `Add members to Doomed ${id}` }).fill("example.com");
  await page.getByRole("listbox").getByRole("option").first().click();
  await page.getByRole("button", { name: /^Add 1/ }).click();
  await expect(page.getByTestId("table-total")).toHaveText("1 user");
  await page.getByRole("region", { name: "Danger zone" }).getByRole("button", { name: "Delete group…" }).click();
  const dialog = page.getByRole("dialog", { name: `Delete Doomed ${id}?` });
  await dialog.getByLabel(`Type Doomed ${id} to confirm`).fill(`Doomed ${id}`);
  await dialog.getByRole("button", { name: "Delete group" }).click();
  await expect(page).toHaveURL(/\/console\/test\/groups$/);
  await expect(page.getByRole("link", { name: `Doomed ${id}`, exact: true })).toHaveCount(0);
});

test("the URL reproduces a filtered, sorted view after reload", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Email", exact: true }).click();
  await expect(page).toHaveURL(/sort=email/);
  await (await openFilters(page)).getByRole("checkbox", { name: "invited" }).check();
  await expect(page).toHaveURL(/status=invited/);
  const emails = async () => (await page.getByRole("row").filter({ hasText: "invited" }).allInnerTexts()).join("|");
  // The filtered page has arrived when every row shown is counted by the total (the header row aside).
  const settled = async () =>
    expect(async () => {
      const total = Number((await page.getByTestId("table-total").innerText()).split(" ")[0]);
      expect(await page.getByRole("row").count()).toBe(total + 1);
      expect(await page.getByRole("row").filter({ hasNotText: "invited" }).count()).toBe(1);
    }).toPass();
  await settled();
  const before = await emails();
  await page.reload();
  await expect(page).toHaveURL(/status=invited/);
  await settled();
  expect(await emails()).toBe(before);
  await expect((await openFilters(page)).getByRole("checkbox", { name: "invited" })).toBeChecked();
  // The panel stays inside the window, whatever its width.
  await page.keyboard.press("Escape");
  await expect(page.getByRole("dialog", { name: "Filters" })).toBeHidden();
  await page.setViewportSize({ width: 700, height: 800 });
  const box = (await (await openFilters(page)).boundingBox())!;
  expect(box.x).toBeGreaterThanOrEqual(0);
  expect(box.x + box.width).toBeLessThanOrEqual(700);
});

test("export an environment's memberships as CSV", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/test/groups`);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "Export memberships" }).click();
  const lines = fs.readFileSync(await (await download).path(), "utf8").trim().split("\n");
  expect(lines[0]).toBe("group,group_source,email,name,user_status,membership_source,member_since");
  // Everyone holds every user with access to TEST (40 in the demo seed, more if other tests added some).
  expect(lines.filter((l) => l.startsWith("Everyone,system,")).length).toBeGreaterThanOrEqual(40);
  expect(lines.some((l) => l.startsWith("Engineering,manual,"))).toBe(true);
});

test("a user's remove buttons say which environment's group they leave", async ({ page }) => {
  const sql = postgres(process.env.E2E_DATABASE_URL!, { max: 1, onnotice: () => {} });
  // A seeded person in Engineering in DEV, TEST and PROD.
  const [person] = await sql<{ id: string }[]>`select gm.user_id as id from group_members gm join groups g on g.id = gm.group_id
    where g.name = 'Engineering' group by gm.user_id having count(*) = 3 order by gm.user_id limit 1`;
  await sql.end();
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users/${person!.id}`);
  const names = await page.getByRole("button", { name: /^Remove from Engineering/ }).evaluateAll((buttons) => buttons.map((b) => b.getAttribute("aria-label")));
  expect(names.sort()).toEqual(["Remove from Engineering in DEV", "Remove from Engineering in PROD", "Remove from Engineering in TEST"]);
});

test("deleting a user sits apart from Save and asks for their email typed out", async ({ page }) => {
  const email = `doomed.${unique()}@example.com`;
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const form = page.getByRole("dialog", { name: "Add a user" });
  await form.getByLabel("Full name").fill("Doomed User");
  await form.getByLabel("Email").fill(email);
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(form).toBeHidden();
  await page.getByLabel("Search").fill(email);
  // The search lands in the URL (debounced) before the row is followed, or it would navigate back.
  await expect(page).toHaveURL(/[?&]q=doomed\./);
  await page.getByRole("link", { name: "Doomed User" }).click();
  await expect(page.getByRole("heading", { name: "Doomed User" })).toBeVisible();

  // The profile's buttons change nothing for good; deleting is in its own zone.
  const profile = page.locator("form").filter({ has: page.getByLabel("Full name") });
  await expect(profile.getByRole("button", { name: /Delete/ })).toHaveCount(0);
  await page.getByRole("region", { name: "Danger zone" }).getByRole("button", { name: "Delete user…" }).click();
  const dialog = page.getByRole("dialog", { name: `Delete ${email}?` });
  const confirm = dialog.getByRole("button", { name: "Delete user" });
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel(`Type ${email} to confirm`).fill("someone.else@example.com");
  await expect(confirm).toBeDisabled();
  await dialog.getByLabel(`Type ${email} to confirm`).fill(email);
  await confirm.click();
  await expect(page).toHaveURL(/\/console\/dev\/users\/?$/);
  await page.getByLabel("Search").fill(email);
  await expect(page.getByText("No user matches")).toBeVisible();
});

test("groups have their own page: search, size, source, grants; a group's page says what it is and lets an admin change it", async ({ page }) => {
  const id = unique();
  await signInAsOwner(page);
  // The Users page is about users: it points to the groups rather than listing them under the table.
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Users", exact: true }).click();
  await expect(page.getByRole("heading", { name: /^Groups in/ })).toHaveCount(0);
  await page.getByRole("link", { name: "their own page" }).click();
  await expect(page).toHaveURL(/\/console\/dev\/groups$/);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("navigation", { name: "Console" }).getByRole("link", { name: "Groups", exact: true }).click();
  await expect(page).toHaveURL(/\/console\/dev\/groups$/);
  await page.getByRole("search", { name: "Search groups" }).getByLabel("Search").fill("engin");
  await page.getByRole("search", { name: "Search groups" }).getByRole("button", { name: "Search" }).click();
  const table = page.getByRole("table", { name: /Groups matching “engin”/ });
  const row = table.getByRole("row").filter({ hasText: "Engineering" });
  await expect(row).toContainText("made in the console");
  await expect(row).toContainText("All of MCP servers");
  await row.getByRole("link", { name: "Engineering" }).click();
  await expect(page.getByTestId("group-what")).toContainText("A group made in the console for DEV");
  await expect(page.getByTestId("members-of")).toHaveText("Members of Engineering");
  await expect(page.getByTestId("members-by-source")).toContainText("added in the console");
  await expect(page.getByRole("list", { name: "Grants of Engineering" })).toContainText("All of MCP servers");

  // A new group: made on the Groups page, renamed and described on its page, deleted by typing its name.
  await page.goto(`${baseUrl()}/console/dev/groups`);
  await page.getByLabel("New group").fill(`Pilot ${id}`);
  await page.getByRole("button", { name: "Create group" }).click();
  await page.getByRole("link", { name: `Pilot ${id}`, exact: true }).click();
  const settings = page.getByRole("form", { name: "Group settings" });
  await settings.getByLabel("Name").fill(`Pilots ${id}`);
  await settings.getByLabel("Description").fill("Trying the new genie");
  await settings.getByRole("button", { name: "Save" }).click();
  await expect(page.getByRole("heading", { name: `Pilots ${id}` })).toBeVisible();
  await page.getByRole("region", { name: "Danger zone" }).getByRole("button", { name: "Delete group…" }).click();
  const dialog = page.getByRole("dialog", { name: `Delete Pilots ${id}?` });
  await dialog.getByLabel(`Type Pilots ${id} to confirm`).fill(`Pilots ${id}`);
  await dialog.getByRole("button", { name: "Delete group" }).click();
  await expect(page).toHaveURL(/\/console\/dev\/groups$/);
  await expect(page.getByRole("link", { name: `Pilots ${id}`, exact: true })).toHaveCount(0);
});

test("revoking an environment and suspending ask in the page's dialog, and Cancel changes nothing", async ({ page }) => {
  const id = unique();
  const email = `asked.${id}@example.com`;
  // The browser's own confirm() would land here (and be dismissed): none may appear.
  const browserDialogs: string[] = [];
  page.on("dialog", (d) => {
    browserDialogs.push(d.message());
    void d.dismiss();
  });
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  const form = page.getByRole("dialog", { name: "Add a user" });
  await form.getByLabel("Full name").fill(`Asked ${id}`);
  await form.getByLabel("Email").fill(email);
  await form.getByRole("checkbox", { name: "PROD" }).check();
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(form).toBeHidden();
  await page.goto(`${baseUrl()}/console/dev/users?q=asked.${id}`);
  await page.getByRole("link", { name: `Asked ${id}` }).click();
  await expect(page.getByRole("heading", { name: `Asked ${id}` })).toBeVisible();

  const prod = page.getByRole("checkbox", { name: /May enter PROD/ });
  await expect(prod).toBeChecked();
  await prod.click();
  const revoke = page.getByRole("dialog", { name: `Revoke PROD for ${email}?` });
  await expect(revoke).toContainText(`${email} leaves every group in PROD`);
  await revoke.getByRole("button", { name: "Cancel" }).click();
  await expect(revoke).toBeHidden();
  await expect(prod).toBeChecked();
  await prod.click();
  await revoke.getByRole("button", { name: "Revoke PROD" }).click();
  await expect(page.getByText("PROD revoked.")).toBeVisible();
  await expect(prod).not.toBeChecked();

  await page.getByRole("button", { name: "Suspend", exact: true }).click();
  const suspend = page.getByRole("dialog", { name: `Suspend ${email}?` });
  await suspend.getByRole("button", { name: "Suspend" }).click();
  await expect(page.getByText("Suspended.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Reactivate" })).toBeVisible();
  expect(browserDialogs).toEqual([]);
});
