import { expect, test } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// The seed files an open request in each environment (as the MCP server's request_access tool
// does): a salesperson asks for the Jira MCP server. The owner decides it in PROD, and grants one
// tool of an MCP server.

test("an admin denies without a reason (refused, field error), then approves; the grant is there", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/prod/access-requests`);
  const open = page.getByRole("table", { name: /Open requests/ });
  const row = open.getByRole("row").filter({ hasText: "Jira MCP" });
  await expect(row).toContainText("I triage customer escalations in Jira.");
  const who = (await row.locator("td").first().innerText()).split(/\s+/).find((w) => w.includes("@"))!;

  await row.getByRole("button", { name: /^Deny / }).click();
  const dialog = page.getByRole("dialog", { name: "Deny this request" });
  await dialog.getByRole("button", { name: "Deny request" }).click();
  await expect(dialog.getByText("Say why the request is denied: the user sees it.")).toBeVisible();
  await dialog.getByRole("button", { name: "Cancel" }).click();

  await row.getByRole("button", { name: /^Approve / }).click();
  await expect(page.getByText(`Approved: ${who} → Jira MCP.`)).toBeVisible();
  const decided = page.getByRole("table", { name: "Decided" });
  await expect(decided.getByRole("row").filter({ hasText: who })).toContainText("approved");
  await expect(open.getByRole("row").filter({ hasText: "Jira MCP" })).toHaveCount(0);

  // The grant it made: a direct grant on the Jira MCP server.
  await page.goto(`${baseUrl()}/console/prod/access?feature=mcp`);
  await page.getByRole("link", { name: "Jira MCP" }).click();
  await expect(page.getByTestId("grant-row").filter({ hasText: who })).toContainText("this resource");
});

test("a grant on one tool of an MCP server says so in the grants", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/test/access?feature=mcp`);
  await page.getByRole("link", { name: "Snowflake MCP" }).click();
  // The server's own page (only it has the tool choice): the feature page has an "Add a group" too,
  // and a pick made there while the navigation is still on its way is lost with that page.
  await expect(page.getByLabel("Tools")).toBeVisible();
  // Typed before the page hydrates, the text is lost (and a late answer can replace the list): type
  // and pick until the pick is taken.
  await expect(async () => {
    await page.getByLabel("Add a group").fill("Fin");
    await page.getByRole("option", { name: /Finance/ }).click({ timeout: 2_000 });
  }).toPass();
  await page.getByLabel("Tools").selectOption("whoami");
  await page.getByRole("button", { name: "Grant Snowflake MCP" }).click();
  await expect(page.getByTestId("grant-row").filter({ hasText: "Finance" })).toContainText("only the whoami tool");
});
