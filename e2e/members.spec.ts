import { expect, test } from "@playwright/test";
import { baseUrl, seriousViolations, signIn, signInAsOwner, unique, writeApiToken } from "./helpers";


test("an owner invites a reviewer from Settings → Members; the reviewer accepts, sets a password, signs in and can only read", async ({ page, browser }) => {
  test.setTimeout(120_000);
  const id = unique();
  const email = `reviewer.${id}@example.com`;
  const password = "quiet lantern over the harbour";

  // The owner invites, from Settings → Members.
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/settings`);
  await page.getByRole("link", { name: "Members", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Members" })).toBeVisible();
  await page.getByRole("button", { name: "Invite member" }).click();
  const dialog = page.getByRole("dialog", { name: "Invite a console member" });
  await dialog.getByLabel("Email").fill(email);
  await dialog.getByLabel("Role").selectOption({ label: "Reviewer" });
  const captured = page.waitForRequest((r) => r.method() === "POST" && !!r.headers()["next-action"]);
  await dialog.getByRole("button", { name: "Send invitation" }).click();
  const inviteRequest = await captured;
  await expect(dialog).toBeHidden();
  const row = page.getByRole("row").filter({ hasText: email });
  await expect(row).toContainText("Reviewer");
  await expect(row).toContainText("invited");
  await expect(row).toContainText("none"); // second factors
  expect(await seriousViolations(page)).toEqual([]);

  // The demo keeps mail in the outbox; the invitation link is there.
  await page.goto(`${baseUrl()}/console/dev/settings`);
  const mail = page.getByRole("row").filter({ hasText: email }).first();
  await mail.getByText("Show the message").click();
  const body = await mail.getByTestId("outbox-body").innerText();
  const link = body.match(/http\S+\/sign-in\/invitation\/\S+/)![0];
  // The link is a link, beside the message and inside it.
  await expect(mail.getByTestId("outbox-link")).toHaveAttribute("href", link);
  await expect(mail.getByTestId("outbox-body").getByRole("link", { name: link })).toBeVisible();

  // The reviewer, in another browser: sets a password, then signs in.
  const context = await browser.newContext();
  const reviewer = await context.newPage();
  await reviewer.goto(link);
  await expect(reviewer.getByText(`${email}, invited as reviewer.`)).toBeVisible();
  expect(await seriousViolations(reviewer)).toEqual([]);
  await reviewer.getByLabel("Your name").fill(`Rita Reviewer ${id}`);
  await reviewer.getByLabel("New password").fill(password);
  await reviewer.getByLabel("Repeat the password").fill(password);
  await reviewer.getByRole("button", { name: "Set password" }).click();
  await expect(reviewer.getByText("Your password is set. Sign in to continue.")).toBeVisible();
  // The link worked once.
  await reviewer.goto(link);
  await expect(reviewer.getByText("This invitation was already used or has expired; ask an owner or admin to send it again.")).toBeVisible();
  await signIn(reviewer, email, password);
  await expect(reviewer).toHaveURL(/\/console\/dev$/);

  // Read-only: the lists are there, the buttons that change things are not.
  await reviewer.goto(`${baseUrl()}/console/dev/users`);
  await expect(reviewer.getByRole("heading", { name: "Users", exact: true })).toBeVisible();
  await expect(reviewer.getByRole("button", { name: "Add user" })).toHaveCount(0);
  await reviewer.goto(`${baseUrl()}/console/dev/settings/members`);
  await expect(reviewer.getByRole("row").filter({ hasText: email })).toContainText("active");
  await expect(reviewer.getByRole("button", { name: "Invite member" })).toHaveCount(0);
  await expect(reviewer.getByRole("button", { name: /^Remove / })).toHaveCount(0);
  await expect(reviewer.getByText("Only owners and admins manage members. A reviewer cannot change console members.")).toBeVisible();

  // A write is refused on the server too: the owner's own invite action, replayed with the reviewer's session.
  const sent = await inviteRequest.allHeaders();
  const headers = Object.fromEntries(Object.entries(sent).filter(([k]) => !["cookie", "host", "content-length"].includes(k) && !k.startsWith(":")));
  const sneaky = `sneaky.${id}@example.com`;
  const replay = await reviewer.request.post(inviteRequest.url(), { headers: { ...headers, origin: baseUrl() }, data: inviteRequest.postData()!.replaceAll(email, sneaky) });
  expect(replay.status()).toBe(200);
  expect(await replay.text()).toContain("A reviewer cannot change console members.");
  await page.goto(`${baseUrl()}/console/dev/settings/members`);
  await expect(page.getByRole("row").filter({ hasText: email })).toContainText("active");
  await expect(page.getByRole("row").filter({ hasText: sneaky })).toHaveCount(0);

  // The owner suspends the reviewer: the reviewer's session ends at once.
  await page.getByRole("button", { name: `Suspend ${email}` }).click();
  await page.getByRole("dialog", { name: `Suspend ${email}?` }).getByRole("button", { name: "Suspend" }).click();
  await expect(page.getByText("Suspended; 1 session ended.")).toBeVisible();
  await reviewer.goto(`${baseUrl()}/console/dev/users`);
  await expect(reviewer).toHaveURL(/\/sign-in/);
  await context.close();
});

test("revoking an API token asks in the page's dialog, and the token stops working", async ({ page }) => {
  const name = `Revoked ${unique()}`;
  await signInAsOwner(page);
  const token = await writeApiToken(page, name);
  const call = () => page.request.get(`${baseUrl()}/api/v1/environments`, { headers: { authorization: `Bearer ${token}` } });
  expect((await call()).status()).toBe(200);
  await page.reload();
  await page.getByRole("button", { name: `Revoke ${name}` }).click();
  const dialog = page.getByRole("dialog", { name: `Revoke “${name}”?` });
  await expect(dialog).toContainText("Clients using it stop working at once.");
  await dialog.getByRole("button", { name: "Revoke token" }).click();
  await expect(page.getByText("Revoked.")).toBeVisible();
  // The machine doors hold tokens in memory until the revocation's notification arrives (milliseconds).
  await expect.poll(async () => {
    const refused = await call();
    return [refused.status(), (await refused.json()).detail];
  }).toEqual([401, "The API token is unknown, revoked or expired."]);
});
