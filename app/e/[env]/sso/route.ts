import { NextResponse, type NextRequest } from "next/server";
import { isDomainError } from "@/lib/errors";
import { startSso } from "@/lib/sso/flow";

// Starts SP-initiated SSO: Jackson builds the AuthnRequest, the browser goes to the IdP.
export async function GET(request: NextRequest, { params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  const loginHint = request.nextUrl.searchParams.get("email") ?? undefined;
  const returnTo = request.nextUrl.searchParams.get("return_to") ?? undefined;
  try {
    const started = await startSso(env, { loginHint: loginHint?.slice(0, 320), returnTo });
    if ("redirectUrl" in started) return NextResponse.redirect(started.redirectUrl, 303);
    return new NextResponse(started.postForm, { headers: { "content-type": "text/html; charset=utf-8" } });
  } catch (error) {
    if (!isDomainError(error)) throw error;
    const url = new URL(`/e/${env}/sign-in`, request.nextUrl.origin);
    url.searchParams.set("error", "sso_unavailable");
    return NextResponse.redirect(url, 303);
  }
}
