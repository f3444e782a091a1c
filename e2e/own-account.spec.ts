import { expect, test, type Page } from "@playwright/test";
import { acceptInvitation, baseUrl, inviteMember, seriousViolations, signIn, signInAsOwner, unique } from "./helpers";

// A console member's own account in Chromium: their sessions on Security (signing another out),
// changing their password (a wrong current one refused beside its field; the other session ends),
// and "forgot password" from the sign-in page, with the link read from the demo's outbox.

// One after the other: the second test turns self-service reset off for the whole console, and the
// first asks for a link from the sign-in page (no other spec does).
test.describe.configure({ mode: "serial" });

async function signedIn(page: Page, email: string, password: string) {
  await signIn(page, email, password);
  await expect(page).toHaveURL(/\/console\/dev$/);
}

/** Whether the page's session still holds: the console answers, or sends it to sign in. */
async function stillSignedIn(page: Page): Promise<boolean> {
  await page.goto(`${baseUrl()}/console/dev`);
  return !/\/sign-in/.test(page.url());
}

test("a member sees their sessions, signs another out, changes their password, and resets a forgotten one from the sign-in page", async ({ page, browser }) => {
  test.setTimeout(180_000);
  const email = `own.${unique()}@example.com`;
  const first = "amber lighthouse on the cliffs";
  const second = "seven quiet foxes by the river";
  const third = "lanterns drifting past the old mill";

  await signInAsOwner(page);
  const link = await inviteMember(page, { email, role: "Admin" });
  const laptop = await (await browser.newContext()).newPage();
  await acceptInvitation(laptop, link, "Avery Own", first);
  await signedIn(laptop, email, first);
  const phone = await (await browser.newContext()).newPage();
  await signedIn(phone, email, first);

  // Security lists both sessions, this one marked; the other is signed out from here.
  await laptop.goto(`${baseUrl()}/console/security`);
  const sessions = laptop.getByRole("region", { name: "Sessions" });
  await expect(sessions.getByRole("row")).toHaveCount(3); // the header and two sessions
  await expect(sessions.getByRole("row").filter({ hasText: "This session" })).toHaveCount(1);
  expect(await seriousViolations(laptop)).toEqual([]);
  await sessions.getByRole("button", { name: /^Sign out the session of / }).click();
  await expect(laptop.getByText("Session signed out.")).toBeVisible();
  await expect(sessions.getByRole("row")).toHaveCount(2);
  expect(await stillSignedIn(phone)).toBe(false);

  // Changing the password: a wrong current one is refused beside its field; then the other session ends.
  await signedIn(phone, email, first);
  await laptop.goto(`${baseUrl()}/console/security`);
  await laptop.getByLabel("Current password").fill("not the password at all");
  await laptop.getByLabel("New password", { exact: true }).fill(second);
  await laptop.getByLabel("Repeat the new password").fill(second);
  await laptop.getByRole("button", { name: "Change password" }).click();
  await expect(laptop.getByText("That is not your current password.")).toBeVisible();
  await expect(laptop.getByLabel("Current password")).toHaveAttribute("aria-invalid", "true");
  await laptop.getByLabel("Current password").fill(first);
  await laptop.getByRole("button", { name: "Change password" }).click();
  await expect(laptop.getByText("Password changed; 1 other session signed out.")).toBeVisible();
  expect(await stillSignedIn(phone)).toBe(false);
  expect(await stillSignedIn(laptop)).toBe(true);

  // Forgot password, from the sign-in page of a third browser.
  const kiosk = await (await browser.newContext()).newPage();
  await kiosk.goto(`${baseUrl()}/sign-in`);
  await kiosk.getByRole("link", { name: "Forgot your password?" }).click();
  await expect(kiosk.getByRole("heading", { name: "Forgot your password?" })).toBeVisible();
  expect(await seriousViolations(kiosk)).toEqual([]);
  await kiosk.getByLabel("Email").fill("not an address");
  await kiosk.getByRole("button", { name: "Send the link" }).click();
  await expect(kiosk.getByLabel("Email")).toHaveAttribute("aria-invalid", "true");
  await kiosk.getByLabel("Email").fill(email);
  await kiosk.getByRole("button", { name: "Send the link" }).click();
  await expect(kiosk.getByText(`If ${email} belongs to a console member who signs in with a password, a link to set a new one is on its way.`)).toBeVisible();

  // The owner reads the link from the demo's outbox (the mail is sent after the answer).
  const resetLink = await linkFromOutbox(page, email, "Reset your identity console password");

  await kiosk.goto(resetLink);
  await expect(kiosk.getByText(`For ${email}.`)).toBeVisible();
  expect(await seriousViolations(kiosk)).toEqual([]);
  await kiosk.getByLabel("New password").fill(third);
  await kiosk.getByLabel("Repeat the password").fill("something else entirely here");
  await kiosk.getByRole("button", { name: "Set password" }).click();
  await expect(kiosk.getByText("The passwords do not match.")).toBeVisible();
  await kiosk.getByLabel("New password").fill(third);
  await kiosk.getByLabel("Repeat the password").fill(third);
  await kiosk.getByRole("button", { name: "Set password" }).click();
  await expect(kiosk.getByText("Your new password is set and your sessions elsewhere are signed out. Sign in to continue.")).toBeVisible();
  // Every session ended, the link is spent, and the new password signs in.
  expect(await stillSignedIn(laptop)).toBe(false);
  await kiosk.goto(resetLink);
  await expect(kiosk.getByText("This link was already used or has expired.")).toBeVisible();
  await signedIn(kiosk, email, third);
});

/** The newest mail to `email` with `subject` in the demo's outbox (owners read reset links there), its link. */
async function linkFromOutbox(owner: Page, email: string, subject: string): Promise<string> {
  let found = "";
  await expect(async () => {
    await owner.goto(`${baseUrl()}/console/dev/settings`);
    const mail = owner.getByRole("row").filter({ hasText: email }).filter({ hasText: subject }).first();
    await mail.getByText("Show the message").click({ timeout: 2_000 });
    found = (await mail.getByTestId("outbox-body").innerText()).match(/http\S+\/sign-in\/reset\/\S+/)![0];
  }).toPass({ timeout: 30_000 });
  return found;
}

test("an owner turns self-service reset off: the sign-in page offers no link, and the owner sends a member one instead", async ({ page, browser }) => {
  test.setTimeout(150_000);
  const email = `reset.${unique()}@example.com`;
  const first = "amber lighthouse on the cliffs";
  const second = "copper bells along the harbour";

  await signInAsOwner(page);
  const invitation = await inviteMember(page, { email, role: "Reviewer" });
  const member = await (await browser.newContext()).newPage();
  await acceptInvitation(member, invitation, "Rowan Reset", first);

  await page.goto(`${baseUrl()}/console/security`);
  const policy = page.getByRole("region", { name: "Forgotten passwords" });
  await policy.getByRole("button", { name: "Turn off self-service password reset" }).click();
  await expect(page.getByText("Members can no longer reset a forgotten password themselves.")).toBeVisible();
  await expect(policy.getByRole("button", { name: "Let members reset a forgotten password" })).toBeVisible();
  expect(await seriousViolations(page)).toEqual([]);
  try {
    await member.goto(`${baseUrl()}/sign-in`);
    await expect(member.getByLabel("Password")).toBeVisible();
    await expect(member.getByRole("link", { name: "Forgot your password?" })).toHaveCount(0);
    await member.goto(`${baseUrl()}/sign-in/forgot`);
    await expect(member.getByText("Members cannot reset a forgotten password themselves in this console: ask an owner to send you a reset link.")).toBeVisible();
    await expect(member.getByRole("button", { name: "Send the link" })).toHaveCount(0);

    // The owner sends the member a link from Members; the member sets a new password with it.
    await page.goto(`${baseUrl()}/console/dev/settings/members`);
    await page.getByRole("button", { name: `Send ${email} a password reset link` }).click();
    const confirm = page.getByRole("dialog", { name: `Send ${email} a password reset link?` });
    await confirm.getByRole("button", { name: "Send link" }).click();
    await expect(page.getByText(/^Reset link sent; it works once, until \d\d:\d\d UTC\.$/)).toBeVisible();
    const link = await linkFromOutbox(page, email, "Reset your identity console password");
    await member.goto(link);
    await expect(member.getByText(`For ${email}.`)).toBeVisible();
    await member.getByLabel("New password").fill(second);
    await member.getByLabel("Repeat the password").fill(second);
    await member.getByRole("button", { name: "Set password" }).click();
    await expect(member.getByText("Your new password is set and your sessions elsewhere are signed out. Sign in to continue.")).toBeVisible();
    await signedIn(member, email, second);
  } finally {
    await page.goto(`${baseUrl()}/console/security`);
    await page.getByRole("region", { name: "Forgotten passwords" }).getByRole("button", { name: "Let members reset a forgotten password" }).click();
    await expect(page.getByText("Members can reset a forgotten password themselves again.")).toBeVisible();
  }
  await member.context().clearCookies();
  await member.goto(`${baseUrl()}/sign-in`);
  await expect(member.getByRole("link", { name: "Forgot your password?" })).toBeVisible();
});
