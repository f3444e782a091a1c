import { NextResponse, type NextRequest } from "next/server";
import { ssoBindingCookie } from "@/lib/sso/browser-binding";
import type { SsoStart } from "@/lib/sso/flow";

/**
 * Starts an SP-initiated sign-in for the browser of this request (an environment's or the
 * console's): the browser goes to the IdP (a redirect, or Jackson's auto-posting form) carrying the
 * binding cookie the ACS will ask for (lib/sso/browser-binding.ts).
 */
export async function ssoStartResponse(request: NextRequest, start: (browserBinding: string | undefined) => Promise<SsoStart>): Promise<NextResponse> {
  const cookie = ssoBindingCookie();
  const started = await start(request.cookies.get(cookie.name)?.value);
  const response =
    "redirectUrl" in started ? NextResponse.redirect(started.redirectUrl, 303) : new NextResponse(started.postForm, { headers: { "content-type": "text/html; charset=utf-8" } });
  response.cookies.set(cookie.name, started.binding, cookie.options);
  return response;
}
