import { NextResponse, type NextRequest } from "next/server";
import { isDomainError } from "@/lib/errors";
import { startConsoleSso } from "@/lib/sso/flow";
import { ssoStartResponse } from "@/lib/doors/http/sso-start";

// Starts a console SSO sign-in (lib/console-sso): Jackson builds the AuthnRequest, the browser goes
// to the IdP with its binding cookie set (the ACS accepts the answer only in this browser). Starting
// writes, so it is a POST from the sign-in page's button; a GET changes nothing and goes back there.

export async function GET(request: NextRequest) {
  return NextResponse.redirect(new URL("/sign-in", request.nextUrl.origin), 303);
}

export async function POST(request: NextRequest) {
  try {
    return await ssoStartResponse(request, (browserBinding) => startConsoleSso({ browserBinding }));
  } catch (error) {
    if (!isDomainError(error)) throw error;
    const url = new URL("/sign-in", request.nextUrl.origin);
    url.searchParams.set("error", "sso_unavailable");
    return NextResponse.redirect(url, 303);
  }
}
