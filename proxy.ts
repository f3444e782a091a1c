import { NextResponse, type NextRequest } from "next/server";
import { problem } from "@/lib/doors/http/problem";

// Every page (not the machine doors: /api, /scim, /mcp, /.well-known, static files):
// - a Content-Security-Policy with a fresh nonce per request. Next reads the nonce from the request's
//   policy header and puts it on its own scripts; nothing else may run (no inline script without
//   it, no eval in production, no framing by anyone, no plugins, forms and base URI same-origin);
// - HSTS when served over https;
// - unsafe methods (server actions, form posts) only from this site: the Origin header must be
//   present and name this host. Next checks a foreign Origin on server actions itself but lets a
//   request without one through; a browser always sends it on a POST, so a missing or `null` Origin
//   is refused here too (403, nothing runs);
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

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/** Why an unsafe request is refused, or null: its Origin must be this request's own host. */
export function crossSiteReason(method: string, headers: Headers): string | null {
  if (SAFE_METHODS.has(method.toUpperCase())) return null;
  const origin = headers.get("origin");
  if (!origin) return "Refused: a request that changes state must carry an Origin header.";
  const originHost = URL.parse(origin)?.host;
  // This site: the host the request came to (through a proxy, the forwarded one), or the public URL's.
  const hosts = [(headers.get("x-forwarded-host") ?? headers.get("host") ?? "").split(",")[0]!.trim(), URL.parse(process.env.NEXTAUTH_URL ?? "")?.host];
  if (!originHost || !hosts.includes(originHost)) return `Refused: a request that changes state must come from this site, not from ${origin}.`;
  return null;
}

export function proxy(request: NextRequest) {
  const refused = crossSiteReason(request.method, request.headers);
  if (refused) return problem(403, refused, { code: "bad_origin" });

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
    // No `missing: [prefetch headers]` exception: a POST carrying such a header would skip the Origin check.
    "/((?!api/|scim/|mcp/|\\.well-known/|_next/static|_next/image|favicon\\.ico).*)",
  ],
};
