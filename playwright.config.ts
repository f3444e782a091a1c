import { defineConfig } from "@playwright/test";

// e2e runs Debian's Chromium (no browser download here) against `npm start` on its own embedded
// database and port, started by e2e/global-setup.ts.
export default defineConfig({
  testDir: "e2e",
  globalSetup: "./e2e/global-setup.ts",
  fullyParallel: true,
  workers: 2,
  retries: 0,
  // Generous: a slower CI machine stretches the longest flows (30–50 s here) towards a tighter limit.
  timeout: 120_000,
  expect: { timeout: 10_000 },
  forbidOnly: true,
  outputDir: "test-results/playwright",
  reporter: [["list"], ["json"]],
  use: {
    browserName: "chromium",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    },
    trace: "retain-on-failure",
  },
  projects: [
    // First, on the freshly seeded demo: the look of the main screens (e2e/screenshots.spec.ts).
    { name: "screenshots", testMatch: /screenshots\.spec\.ts/ },
    { name: "e2e", testIgnore: /(pages-read-only|screenshots)\.spec\.ts/, dependencies: ["screenshots"] },
    // After every other spec (nothing else writes meanwhile): every page's GET under a write log.
    { name: "read-only pages", testMatch: /pages-read-only\.spec\.ts/, dependencies: ["e2e"] },
  ],
});
