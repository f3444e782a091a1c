import type { NextRequest } from "next/server";
import { clientIp } from "@/lib/auth/request-info";
import { ssoAttemptLimit, ssoErrorPage, ssoResultResponse } from "@/lib/doors/http/sso-finish";
import { ssoBindingCookie } from "@/lib/sso/browser-binding";
import { handleOidcCallback } from "@/lib/sso/flow";
import { isOidcState } from "@/lib/sso/oidc";
import { publicOrigin } from "@/env";

// The OpenID Connect redirect URI (lib/sso/oidc.ts): the IdP sends the browser back here with a
// code and our state. Every check runs in lib/sso before any user is touched, exactly as at the
// SAML ACS; the browser's SSO binding cookie goes along (only the starting browser finishes).
export async function GET(request: NextRequest) {
  // No sign-in of ours named (no state of the shape we issue): nothing to finish, and such a GET
  // writes nothing (no trace, no rate-limit entry). A state of our shape counts toward the
  // address's attempts before it is looked up, whether or not it names an open sign-in.
  if (!isOidcState(request.nextUrl.searchParams.get("state"))) {
    return ssoErrorPage(400, "This is the OpenID Connect redirect URI: an identity provider sends the browser here to finish a sign-in started on a sign-in page; start there.");
  }
  const ip = clientIp((n) => request.headers.get(n));
  const limited = await ssoAttemptLimit(ip);
  if (limited) return limited;
  // The URL as the IdP was told it (our public origin): openid-client compares it with the redirect URI.
  const url = new URL(`${request.nextUrl.pathname}${request.nextUrl.search}`, publicOrigin());
  const result = await handleOidcCallback({
    url: url.href,
    browserBinding: request.cookies.get(ssoBindingCookie().name)?.value,
    ip,
    userAgent: request.headers.get("user-agent") ?? undefined,
  });
  return ssoResultResponse(request, result);
}
