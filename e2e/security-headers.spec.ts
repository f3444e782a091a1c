import { expect, test } from "@playwright/test";
import { baseUrl, signInAsOwner } from "./helpers";

// Request hygiene: the headers every page carries, a CSP nonce that changes per request and is the
// one on Next's scripts, pages that work under it (no violation while using them), and the
// x-middleware-subrequest header getting no further than a request without it.

test("pages carry a per-request CSP nonce, frame-ancestors 'none' and the static security headers", async ({ page, request }) => {
  const first = await request.get(`${baseUrl()}/e/dev/sign-in`);
  const second = await request.get(`${baseUrl()}/e/dev/sign-in`);
  const policy = first.headers()["content-security-policy"]!;
  expect(policy).toContain("frame-ancestors 'none'");
  expect(policy).toContain("object-src 'none'");
  expect(policy).not.toContain("unsafe-eval");
  const nonce = /'nonce-([^']+)'/.exec(policy)![1]!;
  expect(/'nonce-([^']+)'/.exec(second.headers()["content-security-policy"]!)![1]).not.toBe(nonce);
  expect(first.headers()).toMatchObject({ "x-content-type-options": "nosniff", "referrer-policy": "strict-origin-when-cross-origin", "x-frame-options": "DENY" });
  // Next's scripts carry that request's nonce.
  const html = await first.text();
  expect(html).toContain(`nonce="${nonce}"`);

  // Using the console under the policy raises no violation.
  const violations: string[] = [];
  page.on("console", (m) => {
    if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
  });
  await signInAsOwner(page);
  await expect(page.getByRole("figure", { name: "Users per environment by status" })).toBeVisible();
  await page.goto(`${baseUrl()}/console/dev/users`);
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("dialog", { name: "Add a user" })).toBeVisible();
  expect(violations).toEqual([]);
});

test("x-middleware-subrequest gets no further than a request without it", async ({ request }) => {
  const plain = await request.get(`${baseUrl()}/console/dev/users`, { maxRedirects: 0 });
  expect([plain.status(), plain.headers().location]).toEqual([307, "/sign-in?callbackUrl=%2Fconsole%2Fdev%2Fusers"]);
  for (const value of ["proxy", "proxy:proxy:proxy:proxy:proxy", "middleware:middleware:middleware:middleware:middleware", "src/middleware"]) {
    const response = await request.get(`${baseUrl()}/console/dev/users`, { headers: { "x-middleware-subrequest": value }, maxRedirects: 0 });
    expect([value, response.status(), response.headers().location]).toEqual([value, 307, plain.headers().location]);
  }
});
