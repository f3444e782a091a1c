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
});
