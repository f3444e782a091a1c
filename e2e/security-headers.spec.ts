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

test("a server action posted with Origin null, a foreign origin or no origin changes nothing", async ({ page }) => {
  await signInAsOwner(page);
  await page.goto(`${baseUrl()}/console/dev/groups`);
  // Capture the browser's own "create group" server action, then replay it with other origins.
  const name = `Replayed ${Date.now().toString(36)}`;
  const captured = page.waitForRequest((r) => r.method() === "POST" && !!r.headers()["next-action"]);
  await page.getByLabel("New group").fill(name);
  await page.getByRole("button", { name: "Create group" }).click();
  const action = await captured;
  await expect(page.getByRole("link", { name, exact: true })).toBeVisible();
  const sent = await action.allHeaders();
  expect(sent.origin).toBe(baseUrl());

  const replayName = `${name} again`;
  const body = action.postData()!.replaceAll(name, replayName);
  // The action's own headers (Next-Action, router state, content type); the cookie comes from the context.
  const headers = Object.fromEntries(Object.entries(sent).filter(([k]) => !["origin", "cookie", "host", "content-length"].includes(k) && !k.startsWith(":")));
  for (const origin of ["null", "https://evil.example", undefined]) {
    const response = await page.request.post(action.url(), { headers: origin ? { ...headers, origin } : headers, data: body, maxRedirects: 0 });
    expect([origin, response.status(), (await response.json()).detail]).toEqual([
      origin,
      403,
      origin ? `Refused: a request that changes state must come from this site, not from ${origin}.` : "Refused: a request that changes state must carry an Origin header.",
    ]);
  }
  await page.goto(`${baseUrl()}/console/dev/groups?q=${encodeURIComponent(replayName)}`);
  await expect(page.getByRole("link", { name: replayName, exact: true })).toHaveCount(0);
  // The same replay from this site does create it: the refusals above were of a valid request.
  const same = await page.request.post(action.url(), { headers: { ...headers, origin: baseUrl() }, data: body });
  expect(same.status()).toBe(200);
  await page.reload();
  await expect(page.getByRole("link", { name: replayName, exact: true })).toBeVisible();
});
