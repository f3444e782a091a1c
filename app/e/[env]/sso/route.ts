import { NextResponse, type NextRequest } from "next/server";
import { isDomainError } from "@/lib/errors";
import { findEnvironmentByKey } from "@/lib/environments";
import { getAuthRow, homeRealm, routeSignIn } from "@/lib/sso/environment-auth";
import { startSso } from "@/lib/sso/flow";
import { ssoStartResponse } from "@/lib/doors/http/sso-start";
import { emailSchema } from "@/lib/validation";

// Starts SP-initiated SSO: Jackson builds the AuthnRequest (and we keep a pending request row), the
// browser goes to the IdP. Starting writes, so it is a POST: the sign-in page's email form and its
// "single sign-on" button post here. With an email this routes like the sign-in page does: an
// enforced domain goes straight to the IdP, anyone else back to the password step.
// A GET changes nothing: it sends the browser to the sign-in page with what it carried.
// The answer sets the browser's SSO binding cookie: the ACS accepts the IdP's response for this
// sign-in only from the browser that carries it (lib/sso/browser-binding.ts).

function signInUrl(request: NextRequest, env: string, params: Record<string, string | undefined>) {
  const url = new URL(`/e/${encodeURIComponent(env)}/sign-in`, request.nextUrl.origin);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  return url;
}

export async function GET(request: NextRequest, { params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  const sp = request.nextUrl.searchParams;
  return NextResponse.redirect(signInUrl(request, env, { email: sp.get("email") ?? undefined, return_to: sp.get("return_to") ?? undefined }), 303);
}

export async function POST(request: NextRequest, { params }: { params: Promise<{ env: string }> }) {
  const { env } = await params;
  const form = await request.formData().catch(() => new FormData());
  const field = (name: string) => {
    const v = form.get(name);
    return typeof v === "string" && v.trim() ? v.trim().slice(0, 2048) : undefined;
  };
  const email = field("email");
  const returnTo = field("return_to");
  // A choice from the chooser (several IdPs serve the email's domain, or the environment has several).
  const identityProviderId = field("identity_provider");
  // The email step's form sent no address (a browser requires one; a script need not): asked again.
  // The "single sign-on" button sends no email field at all, and starts SSO.
  if (form.has("email") && !email && !identityProviderId) return NextResponse.redirect(signInUrl(request, env, { error: "email_required", return_to: returnTo }), 303);
  try {
    const environment = await findEnvironmentByKey(env);
    if (!environment) return NextResponse.redirect(signInUrl(request, env, {}), 303);
    if (!identityProviderId) {
      const auth = await getAuthRow(environment.id);
      const realm = await homeRealm(auth);
      if (email) {
        const valid = emailSchema.safeParse(email).success;
        if (!valid || routeSignIn(auth, email, false, realm.routedDomains).method !== "sso") {
          // Not an SSO user (or not an email at all): the sign-in page shows the password step or the error.
          return NextResponse.redirect(signInUrl(request, env, { email, return_to: returnTo }), 303);
        }
      }
      // Home realm discovery: more than one IdP to choose from, the sign-in page shows the chooser.
      if (realm.choicesFor(email).length > 1) {
        return NextResponse.redirect(signInUrl(request, env, { email, return_to: returnTo, choose: "1" }), 303);
      }
    }
    return await ssoStartResponse(request, (browserBinding) => startSso(env, { loginHint: email?.slice(0, 320), returnTo, browserBinding, identityProviderId }));
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return NextResponse.redirect(signInUrl(request, env, { error: "sso_unavailable" }), 303);
  }
}
