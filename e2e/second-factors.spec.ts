import { expect, test } from "@playwright/test";
import postgres from "postgres";
import { acceptInvitation, baseUrl, inviteMember, seriousViolations, signIn, signInAsOwner, totpCode, unique } from "./helpers";

// A console member's second factor, as people use it: an owner invites an admin; the admin accepts,
// adds an authenticator app on Security (the test computes codes from the key shown, as the app
// would), keeps the recovery codes, signs in again with password and code, confirms a sensitive
// action with a recovery code when the last proof is old, and the owner resets the admin's factors
// (a lost phone), which signs the admin out.


test("an admin adds an authenticator app and a passkey, signs in with each, confirms sensitive actions, and an owner resets them", async ({ page, browser }) => {
  test.setTimeout(150_000);
  const id = unique();
  const email = `admin.${id}@example.com`;
  const password = "amber kites over the quiet bay";

  // The owner invites an admin; the link is in the demo's outbox.
  await signInAsOwner(page);
  const link = await inviteMember(page, { email, role: "Admin" });

  // The admin accepts and signs in with the password alone (no factor yet).
  const context = await browser.newContext();
  const admin = await context.newPage();
  await acceptInvitation(admin, link, `Ada Admin ${id}`, password);
  await signIn(admin, email, password);
  await expect(admin).toHaveURL(/\/console\/dev$/);

  // Security, from the account menu: add an authenticator app.
  await admin.getByRole("button", { name: `Account menu for Ada Admin ${id}` }).click();
  await admin.getByRole("menuitem", { name: "Security" }).click();
  await expect(admin.getByRole("heading", { name: "Security" })).toBeVisible();
  await expect(admin.getByText("None yet: signing in takes your password alone.", { exact: false })).toBeVisible();
  await admin.getByRole("button", { name: "Add an authenticator app" }).click();
  await expect(admin.getByRole("img", { name: "QR code of the authenticator key" })).toBeVisible();
  const secret = (await admin.getByTestId("totp-secret").innerText()).trim();
  expect(secret).toMatch(/^[A-Z2-7]{32}$/);
  await admin.getByLabel("Code from the app").fill("000000");
  await admin.getByRole("button", { name: "Confirm" }).click();
  await expect(admin.getByText("That code is not right: check the app's clock and try the current code.")).toBeVisible();
  await admin.getByLabel("Name").fill("Work phone");
  await admin.getByLabel("Code from the app").fill(await totpCode(secret));
  await admin.getByRole("button", { name: "Confirm" }).click();
  const codes = admin.getByTestId("recovery-codes").getByRole("listitem");
  await expect(codes).toHaveCount(10);
  const recovery = await codes.allInnerTexts();
  expect(recovery.every((c) => /^[a-z2-9]{5}-[a-z2-9]{5}$/.test(c))).toBe(true);
  await expect(admin.getByRole("list", { name: "Your second factors" })).toContainText("Work phone");
  await expect(admin.getByTestId("recovery-codes-left")).toHaveText("10");
  await admin.screenshot({ path: test.info().outputPath("security.png"), fullPage: true });
  expect(await seriousViolations(admin)).toEqual([]);

  // A passkey too, through Chromium's virtual authenticator (the DevTools protocol's WebAuthn domain).
  const cdp = await context.newCDPSession(admin);
  await cdp.send("WebAuthn.enable");
  await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: { protocol: "ctap2", transport: "internal", hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  await admin.getByRole("button", { name: "Add a passkey" }).click();
  await admin.getByLabel("Passkey name").fill("Laptop");
  await admin.getByRole("button", { name: "Create passkey" }).click();
  await expect(admin.getByRole("list", { name: "Your second factors" })).toContainText("Laptop");
  await expect(admin.getByRole("list", { name: "Your second factors" }).getByRole("listitem")).toHaveCount(2);

  // Signing in again takes the password, then the passkey.
  const signOut = async () => {
    await admin.goto(`${baseUrl()}/console/dev`);
    await admin.getByRole("button", { name: `Account menu for Ada Admin ${id}` }).click();
    await admin.getByRole("menuitem", { name: "Sign out" }).click();
    await expect(admin).toHaveURL(/\/sign-in/);
  };
  await signOut();
  await signIn(admin, email, password);
  await admin.getByRole("button", { name: "Use a passkey" }).click();
  await expect(admin).toHaveURL(/\/console\/dev$/);

  // Or the password, then a code (the next step's: the current one is spent).
  await signOut();
  await signIn(admin, email, password);
  await expect(admin.getByLabel("Authentication code")).toBeVisible();
  await admin.getByLabel("Authentication code").fill("123456");
  await admin.getByRole("button", { name: "Verify" }).click();
  await expect(admin.getByText("That code is not right, or was used already. Too many wrong codes lock the account for a while.")).toHaveAttribute("role", "alert");
  await admin.getByLabel("Authentication code").fill(await totpCode(secret, 1));
  await admin.getByRole("button", { name: "Verify" }).click();
  await expect(admin).toHaveURL(/\/console\/dev$/);

  // A sensitive action when the last proof is older than 15 minutes: the step-up dialog asks for a code.
  const ageLastProof = async () => {
    const sql = postgres(process.env.E2E_DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      await sql`update console_sessions set second_factor_at = now() - interval '20 minutes'
        where member_id = (select id from console_members where email = ${email}) and revoked_at is null`;
    } finally {
      await sql.end();
    }
  };
  await ageLastProof();
  await admin.goto(`${baseUrl()}/console/dev/settings`);
  await admin.getByLabel("Token name").fill(`ci ${id}`);
  await admin.getByRole("button", { name: "Create token" }).click();
  const stepUp = admin.getByRole("dialog", { name: "Confirm it is you" });
  await expect(stepUp).toBeVisible();
  await stepUp.getByLabel("Authentication code").fill("000000");
  await stepUp.getByRole("button", { name: "Confirm" }).click();
  await expect(stepUp.getByText("That code is not right.")).toBeVisible();
  await stepUp.getByLabel("Authentication code").fill(recovery[0]!);
  await stepUp.getByRole("button", { name: "Confirm" }).click();
  await expect(stepUp).toBeHidden();
  await expect(admin.getByTestId("new-token")).toHaveText(/^iamc_/);

  // Again, confirmed with the passkey this time.
  await ageLastProof();
  await admin.goto(`${baseUrl()}/console/dev/settings`);
  await admin.getByLabel("Token name").fill(`ci two ${id}`);
  await admin.getByRole("button", { name: "Create token" }).click();
  await expect(stepUp).toBeVisible();
  await stepUp.getByRole("button", { name: "Use a passkey" }).click();
  await expect(stepUp).toBeHidden();
  await expect(admin.getByTestId("new-token")).toHaveText(/^iamc_/);

  // The owner resets the admin's factors (a lost phone): the admin is signed out, and signs in with the password alone.
  await page.goto(`${baseUrl()}/console/dev/settings/members`);
  const row = page.getByRole("row").filter({ hasText: email });
  await expect(row).toContainText("Authenticator app");
  await row.getByRole("button", { name: `Reset the second factors of ${email}` }).click();
  await page.getByRole("dialog", { name: `Reset the second factors of ${email}?` }).getByRole("button", { name: "Reset" }).click();
  await expect(page.getByText("Second factors reset; 1 session ended.")).toBeVisible();
  await expect(row).toContainText("none");
  await admin.goto(`${baseUrl()}/console/dev/users`);
  await expect(admin).toHaveURL(/\/sign-in/);
  await signIn(admin, email, password);
  await expect(admin).toHaveURL(/\/console\/dev$/);
  await context.close();
});
