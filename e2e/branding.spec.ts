import { expect, test } from "@playwright/test";
import { baseUrl, seriousViolations, signInAsOwner, writeApiToken } from "./helpers";

// A branded sign-in page: an admin names the environment, picks colours (a colour below WCAG AA is
// refused with the contrast found), writes a message and a support link, is refused a logo that is
// not an image, uploads an SVG one, and sees the preview; end users then see the branded page. The
// environment is the spec's own (made over REST, with a fixed key so the screenshots are stable).

const KEY = "brand";
const LOGO = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="24" height="24"><circle cx="12" cy="12" r="10" fill="#0f5132"/><rect x="7" y="7" width="10" height="10" fill="#ffffff"/></svg>`;

test("an admin brands PROD-like sign-in: colours checked for contrast, a non-image logo refused, a preview, and the branded page", async ({ page, browser }) => {
  test.setTimeout(150_000);
  await signInAsOwner(page);
  const apiToken = await writeApiToken(page, "branding environment");
  const created = await page.request.post(`${baseUrl()}/api/v1/environments`, { headers: { authorization: `Bearer ${apiToken}` }, data: { key: KEY, name: "BRAND" } });
  expect([201, 409]).toContain(created.status());

  await page.goto(`${baseUrl()}/console/${KEY}/settings`);
  const form = page.getByRole("form", { name: "Branding of BRAND" });
  await form.getByLabel("Display name").fill("Acme Cloud");
  await form.getByLabel("Primary colour (buttons, links)").fill("#8ab4f8");
  await form.getByLabel("Page background").fill("#f0fdf4");
  await form.getByLabel("Message on the sign-in page").fill("Welcome to Acme Cloud. Use your work email.");
  await form.getByLabel("Support link (https:// or mailto:)").fill("https://help.acme.example");
  await form.getByRole("button", { name: "Save branding" }).click();
  await expect(form.getByText(/^White text on this colour has a contrast of [\d.]+:1; WCAG AA needs 4\.5:1\. Choose a darker colour\.$/)).toBeVisible();
  await form.getByLabel("Primary colour (buttons, links)").fill("#0f5132");
  await form.getByRole("button", { name: "Save branding" }).click();
  await expect(page.getByText("Branding saved.")).toBeVisible();

  // A logo that is not an image is refused with the reason; an SVG is taken (sanitised).
  const logoForm = page.getByRole("form", { name: "Logo" });
  await logoForm.getByLabel("Logo (PNG or SVG, at most 100 KB)").setInputFiles({ name: "logo.png", mimeType: "image/png", buffer: Buffer.from("this is text, not a picture") });
  await logoForm.getByRole("button", { name: "Upload logo" }).click();
  await expect(logoForm.getByRole("alert")).toHaveText("The logo must be a PNG or an SVG image; this file is neither.");
  await logoForm.getByLabel("Logo (PNG or SVG, at most 100 KB)").setInputFiles({ name: "logo.svg", mimeType: "image/svg+xml", buffer: Buffer.from(LOGO) });
  await logoForm.getByRole("button", { name: "Upload logo" }).click();
  await expect(page.getByText("Logo saved.")).toBeVisible();

  // The preview, as saved.
  await page.reload();
  const preview = page.getByTestId("branding-preview");
  await expect(preview.locator("img")).toHaveJSProperty("complete", true);
  await expect(page.locator("[data-sonner-toast]")).toHaveCount(0, { timeout: 15_000 });
  expect(await seriousViolations(page)).toEqual([]);
  await expect(preview).toHaveScreenshot("branding-preview.png", { maxDiffPixelRatio: 0.01 });

  // The end users' sign-in page in the environment's branding.
  const visitor = await (await browser.newContext()).newPage();
  await visitor.goto(`${baseUrl()}/e/${KEY}/sign-in`);
  await expect(visitor.getByRole("banner")).toContainText("Acme Cloud");
  await expect(visitor.getByTestId("branding-message")).toHaveText("Welcome to Acme Cloud. Use your work email.");
  await expect(visitor.getByRole("link", { name: "Contact support" })).toHaveAttribute("href", "https://help.acme.example");
  const logo = visitor.getByRole("banner").locator("img");
  await expect(logo).toHaveJSProperty("complete", true);
  expect(await logo.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBeGreaterThan(0);
  expect(await visitor.getByRole("button", { name: "Continue" }).evaluate((b) => getComputedStyle(b).backgroundColor)).toBe("rgb(15, 81, 50)");
  expect(await seriousViolations(visitor)).toEqual([]);
  await expect(visitor).toHaveScreenshot("branded-sign-in.png", { fullPage: true, maxDiffPixelRatio: 0.01 });
  await visitor.context().close();
});
