import { describe, expect, it } from "vitest";
import { NextRequest } from "next/server";
import { proxy } from "@/proxy";

describe("the proxy's headers", () => {
  it("sends HSTS only over https, and a CSP with a fresh nonce on every page response", () => {
    const https = proxy(new NextRequest("https://iam.example/e/dev/sign-in"));
    expect(https.headers.get("strict-transport-security")).toBe("max-age=63072000; includeSubDomains");
    const http = proxy(new NextRequest("http://localhost:3000/e/dev/sign-in"));
    expect(http.headers.get("strict-transport-security")).toBeNull();
    const nonce = (r: Response) => /'nonce-([^']+)'/.exec(r.headers.get("content-security-policy")!)![1];
    expect(nonce(https)).not.toBe(nonce(http));
    expect(http.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
  });

  it("redirects /console without a session cookie to sign-in, with the policy", () => {
    const r = proxy(new NextRequest("http://localhost:3000/console/prod/users"));
    expect([r.status, r.headers.get("location")]).toEqual([307, "http://localhost:3000/sign-in?callbackUrl=%2Fconsole%2Fprod%2Fusers"]);
    expect(r.headers.get("content-security-policy")).toContain("default-src 'self'");
  });

  it("refuses an unsafe request without this site's Origin before anything runs, and lets same-site ones through", async () => {
    const post = (headers: Record<string, string>) => proxy(new NextRequest("http://localhost:3000/console/dev/users", { method: "POST", headers: { host: "localhost:3000", ...headers } }));
    for (const [headers, reason] of [
      [{}, "Refused: a request that changes state must carry an Origin header."],
      [{ origin: "null" }, "Refused: a request that changes state must come from this site, not from null."],
      [{ origin: "https://evil.example" }, "Refused: a request that changes state must come from this site, not from https://evil.example."],
      [{ origin: "http://localhost:3000.evil.example" }, "Refused: a request that changes state must come from this site, not from http://localhost:3000.evil.example."],
    ] as const) {
      const r = post(headers);
      expect([r.status, r.headers.get("content-type"), await r.json()]).toEqual([403, "application/problem+json", expect.objectContaining({ type: "urn:iam-console:problem:bad_origin", detail: reason })]);
    }
    const same = post({ origin: "http://localhost:3000", cookie: "next-auth.session-token=x" });
    expect(same.status).toBe(200);
    expect(same.headers.get("x-middleware-next")).toBe("1");
    // Behind a proxy the forwarded host is the site's.
    expect(post({ origin: "https://iam.example", "x-forwarded-host": "iam.example", cookie: "next-auth.session-token=x" }).status).toBe(200);
    // Or the public URL's host (a proxy that rewrites Host and forwards none).
    const saved = process.env.NEXTAUTH_URL;
    process.env.NEXTAUTH_URL = "https://iam.example";
    try {
      expect(post({ origin: "https://iam.example", cookie: "next-auth.session-token=x" }).status).toBe(200);
      expect(post({ origin: "https://other.example", cookie: "next-auth.session-token=x" }).status).toBe(403);
    } finally {
      if (saved === undefined) delete process.env.NEXTAUTH_URL;
      else process.env.NEXTAUTH_URL = saved;
    }
    // Safe methods need no Origin.
    expect(proxy(new NextRequest("http://localhost:3000/e/dev/sign-in")).status).toBe(200);
  });
});
