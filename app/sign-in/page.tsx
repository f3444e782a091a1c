import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { publicOrigin } from "@/env";
import { getConsoleSession } from "@/lib/auth/session";
import { consoleSsoSettings } from "@/lib/console-sso";
import { consoleSecurity } from "@/lib/second-factor";
import { getTrace, signInFailureMessage } from "@/lib/sso/flow";
import { safeRedirectTarget } from "@/lib/net/redirect";
import { SignInForm } from "./sign-in-form";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<{ callbackUrl?: string; invited?: string; reset?: string; email?: string; sso_error?: string; error?: string }> }) {
  if (await getConsoleSession()) redirect("/console");
  const { callbackUrl, invited, reset, email, sso_error: ssoErrorId, error } = await searchParams;
  const [sso, trace, security] = await Promise.all([consoleSsoSettings(), typeof ssoErrorId === "string" ? getTrace(ssoErrorId) : undefined, consoleSecurity()]);
  // Only a console sign-in's refusal is shown here (an environment's is shown on its own page).
  const ssoError = trace && trace.outcome === "failure" && !trace.environmentId && trace.result?.console === true ? signInFailureMessage(trace) : null;
  // Only our own origin, judged as the browser will resolve it: an open redirect after sign-in
  // would hand a freshly signed-in administrator to anyone's page.
  const target = safeRedirectTarget(callbackUrl, publicOrigin()) ?? "/console";
  return (
    <main className="flex min-h-screen items-center justify-center p-6">
      <div className="w-full max-w-sm rounded-lg border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold">Sign in to the identity console</h1>
        <p className="mt-1 text-sm text-slate-600">For administrators and reviewers.</p>
        {(invited === "1" || reset === "1") && (
          <p role="status" className="mt-4 rounded-md border border-green-200 bg-green-50 p-3 text-sm">
            {reset === "1" ? "Your new password is set and your sessions elsewhere are signed out. Sign in to continue." : "Your password is set. Sign in to continue."}
          </p>
        )}
        {ssoError && (
          <p role="alert" className="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
            Single sign-on failed: {ssoError} <span className="text-xs text-red-700">(reference {ssoErrorId})</span>
          </p>
        )}
        {error === "sso_unavailable" && (
          <p role="alert" className="mt-4 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
            Single sign-on is not turned on for the console.
          </p>
        )}
        <SignInForm callbackUrl={target} email={typeof email === "string" ? email.slice(0, 320) : undefined} ssoName={sso.enabled ? sso.identityProvider!.name : null} forgotLink={security.selfServiceReset} />
        {sso.enabled && (
          // Starting SSO writes (a pending request), so it is a POST.
          <form method="post" action="/sign-in/sso" className="mt-4 border-t border-slate-200 pt-4">
            <button type="submit" className="w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm font-medium text-slate-800 hover:bg-slate-50">
              Sign in with single sign-on ({sso.identityProvider!.name})
            </button>
            {sso.passwordSignIn === "owners" && <p className="mt-2 text-xs text-slate-600">Passwords are for owners only (the break-glass way in, with a second factor).</p>}
          </form>
        )}
      </div>
    </main>
  );
}
