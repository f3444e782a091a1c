import { NextResponse, type NextRequest } from "next/server";

// A convenience redirect only: the console's pages and actions check the server-side session
// themselves (lib/auth/session.ts), so nothing depends on this running.
export function proxy(request: NextRequest) {
  const hasCookie = request.cookies.has("next-auth.session-token") || request.cookies.has("__Secure-next-auth.session-token");
  if (!hasCookie) {
    const url = new URL("/sign-in", request.url);
    url.searchParams.set("callbackUrl", request.nextUrl.pathname);
    return NextResponse.redirect(url);
  }
  return NextResponse.next();
}

export const config = { matcher: ["/console/:path*"] };
