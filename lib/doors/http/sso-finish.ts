import { NextResponse, type NextRequest } from "next/server";
import { consoleSessionCookie } from "@/lib/auth/session";
import { sessionCookieName, sessionCookieOptions } from "@/lib/end-user/sessions";
import { safeRedirectTarget } from "@/lib/net/redirect";
import { hitRateLimit, limitedAddress } from "@/lib/rate-limit";
import type { AcsResult } from "@/lib/sso/flow";

/**
 * The IdPs' answers (the SAML ACS, the OpenID Connect redirect URI) are limited per address, shared
 * by every instance (Postgres), so a flood of forged answers stays cheap: the refusal, or null.
 */
export async function ssoAttemptLimit(ip: string | undefined): Promise<NextResponse | null> {
  const limit = await hitRateLimit(`acs:${limitedAddress(ip)}`, 300, 60);
  if (limit.allowed) return null;
  const res = ssoErrorPage(429, `Too many sign-in attempts from this address; retry in ${limit.retryAfterSeconds} s.`);
  res.headers.set("retry-after", String(limit.retryAfterSeconds));
  return res;
}

/**
 * Where the browser goes once an IdP's answer was handled (the SAML ACS and the OpenID Connect
 * redirect URI alike): in, with its session cookie, to where the sign-in started; refused, to the
 * sign-in page it came from, which reads the reason from the trace.
 */
export async function ssoResultResponse(request: NextRequest, result: AcsResult): Promise<NextResponse> {
  const origin = request.nextUrl.origin;
  if (!result.ok) {
    if (result.console) {
      const url = new URL("/sign-in", origin);
      if (result.traceId) url.searchParams.set("sso_error", result.traceId);
      return NextResponse.redirect(url, 303);
    }
    if (result.environmentKey) {
      const url = new URL(`/e/${result.environmentKey}/sign-in`, origin);
      if (result.traceId) url.searchParams.set("sso_error", result.traceId);
      return NextResponse.redirect(url, 303);
    }
    return ssoErrorPage(400, `Sign-in failed: ${result.reason}${result.traceId ? ` (reference ${result.traceId})` : ""}`);
  }
  if ("console" in result) {
    const response = NextResponse.redirect(new URL(safeRedirectTarget(result.redirectTo, origin) ?? "/console", origin), 303);
    const cookie = await consoleSessionCookie(result.console.sessionId, result.console.member);
    response.cookies.set(cookie.name, cookie.value, cookie.options);
    return response;
  }
  const target = safeRedirectTarget(result.redirectTo, origin) ?? `/e/${result.environment.key}`;
  const response = NextResponse.redirect(new URL(target, origin), 303);
  response.cookies.set(sessionCookieName(result.environment.key), result.token, sessionCookieOptions());
  return response;
}

export function ssoErrorPage(status: number, message: string) {
  const escaped = message.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" })[c]!);
  return new NextResponse(`<!doctype html><html lang="en"><head><title>Sign-in failed</title></head><body><main><h1>Sign-in failed</h1><p role="alert">${escaped}</p></main></body></html>`, {
    status,
    headers: { "content-type": "text/html; charset=utf-8" },
  });
}
