import { chromium } from "@playwright/test";

// Developer aid: sign in and screenshot a console page. tsx scripts/dev/screenshot.ts URL EMAIL PASSWORD OUT [PATH]
const [base, email, password, out, path = "/console/dev/users"] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1500, height: 1000 } });
await page.goto(`${base}/sign-in`);
await page.getByLabel("Email").fill(email!);
await page.getByLabel("Password").fill(password!);
await page.getByRole("button", { name: "Sign in" }).click();
await page.waitForURL(/\/console\//);
await page.goto(`${base}${path}`);
page.on("request", (r) => console.log("req", r.method(), r.url().slice(0, 120)));
await page.waitForTimeout(3000);
await page.screenshot({ path: out!, fullPage: true });
await browser.close();
