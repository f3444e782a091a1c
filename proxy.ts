import { NextResponse, type NextRequest } from "next/server";

// Every page (not the machine doors: /api, /scim, /mcp, /.well-known, static files):
// - a Content-Security-Policy with a fresh nonce per request. Next reads the nonce from the request's
//   policy header and puts it on its own scripts; nothing else may run (no inline script without
//   it, no eval in production, no framing by anyone, no plugins, forms and base URI same-origin);
// - HSTS when served over https;
// - a convenience redirect to sign-in for /console without a session cookie (the pages check the
//   server-side session themselves, so nothing depends on this running).
// The static headers every response carries (nosniff, referrer policy…) are in next.config.ts.

export function contentSecurityPolicy(nonce: string, dev: boolean): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    // Radix, sonner and recharts set inline style attributes.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "frame-ancestors 'none'",
  ].join("; ");
}

export function proxy(request: NextRequest) {
  const nonce = btoa(crypto.randomUUID());
  const policy = contentSecurityPolicy(nonce, process.env.NODE_ENV !== "production");
  const https = request.nextUrl.protocol === "https:" || request.headers.get("x-forwarded-proto") === "https" || process.env.NEXTAUTH_URL?.startsWith("https://");
  let response: NextResponse;
  const { pathname } = request.nextUrl;
  const hasCookie = request.cookies.has("next-auth.session-token") || request.cookies.has("__Secure-next-auth.session-token");
  if ((pathname === "/console" || pathname.startsWith("/console/")) && !hasCookie) {
    const url = new URL("/sign-in", request.url);
    url.searchParams.set("callbackUrl", pathname);
    response = NextResponse.redirect(url);
  } else {
    const headers = new Headers(request.headers);
    headers.set("x-nonce", nonce);
    headers.set("content-security-policy", policy);
    response = NextResponse.next({ request: { headers } });
  }
  response.headers.set("content-security-policy", policy);
  if (https) response.headers.set("strict-transport-security", "max-age=63072000; includeSubDomains");
  return response;
}

export const config = {
  matcher: [
    {
      source: "/((?!api/|scim/|mcp/|\\.well-known/|_next/static|_next/image|favicon\\.ico).*)",
      missing: [
        { type: "header", key: "next-router-prefetch" },
        { type: "header", key: "purpose", value: "prefetch" },
      ],
    },
  ],
};
