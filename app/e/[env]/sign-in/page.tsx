import Link from "next/link";
import { brandingOf } from "@/lib/branding";
import { notFound, redirect } from "next/navigation";
import type { ReactNode } from "react";
import { Button } from "@/components/ui/button";
import { findEnvironmentByKey } from "@/lib/environments";
import { getAuthRow, homeRealm, NO_REALM, routeSignIn, type SignInChoice } from "@/lib/sso/environment-auth";
import { getTrace, safeReturnPath, signInFailureMessage } from "@/lib/sso/flow";
import { emailSchema } from "@/lib/validation";
import { PasswordForm } from "../forms";
import { currentEndUserSession } from "../session";

export const metadata = { title: "Sign in" };

type Search = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined) => (typeof v === "string" ? v : undefined);

export default async function EndUserSignInPage({ params, searchParams }: { params: Promise<{ env: string }>; searchParams: Promise<Search> }) {
  const { env: envKey } = await params;
  const sp = await searchParams;
  const environment = await findEnvironmentByKey(envKey);
  if (!environment) notFound();
  const returnTo = safeReturnPath(one(sp.return_to), envKey) ?? undefined;
  if (await currentEndUserSession(envKey)) redirect(returnTo ?? `/e/${envKey}`);

  const [settings, branding] = await Promise.all([getAuthRow(environment.id), brandingOf(environment.id)]);
  const rawEmail = one(sp.email)?.trim() ?? "";
  const email = emailSchema.safeParse(rawEmail).success ? rawEmail : "";
  const wantsPassword = one(sp.method) === "password";
  const ssoErrorId = one(sp.sso_error);
  const trace = ssoErrorId ? await getTrace(ssoErrorId) : undefined;
  const ssoError = trace && trace.outcome === "failure" && trace.environmentId === environment.id ? signInFailureMessage(trace) : null;
  const enforcedForAll = settings.ssoEnabled && settings.enforcement === "all";

  let step: "email" | "password" | "sso" | "choose" | "none" = "email";
  let noneReason = "";
  const emailError = rawEmail && !email ? "Enter a valid email address." : one(sp.error) === "email_required" ? "Enter your email address." : null;
  // The environment's IdPs and their domains, read only where an email is routed or a choice shown.
  const realm = email || one(sp.choose) ? await homeRealm(settings) : NO_REALM;
  if (email) {
    const route = routeSignIn(settings, email, false, realm.routedDomains);
    // Reached by a link carrying an SSO user's email: starting SSO writes, so it takes a POST (a click).
    if (route.method === "sso" && !wantsPassword) step = "sso";
    else if (route.method === "none") {
      step = "none";
      noneReason = route.reason;
    } else step = "password";
  } else if (wantsPassword) step = "password";
  else if (one(sp.choose) && settings.ssoEnabled) step = "choose";
  // Home realm discovery: the IdPs serving the email's domain (or, without an email, all of them).
  const choices: SignInChoice[] = step === "sso" || step === "choose" ? realm.choicesFor(step === "sso" ? email : undefined) : [];

  return (
    <section className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="text-xl font-semibold">Sign in to {environment.name}</h1>
      {branding.message && (
        <p className="mt-2 text-sm text-slate-700" data-testid="branding-message">
          {branding.message}
        </p>
      )}
      {one(sp.password_set) && (
        <p role="status" className="mt-3 text-sm text-slate-600">
          Your password is set. This environment signs you in with single sign-on.
        </p>
      )}
      {one(sp.signed_out) && (
        <p role="status" className="mt-3 text-sm text-slate-600">
          You are signed out.
        </p>
      )}
      {ssoError && (
        <p role="alert" className="mt-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
          Single sign-on failed: {ssoError} <span className="text-xs text-red-600">(reference {ssoErrorId})</span>
        </p>
      )}
      {one(sp.error) === "sso_unavailable" && (
        <p role="alert" className="mt-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
          Single sign-on is not available for this environment.
        </p>
      )}
      <div className="mt-5">
        {step === "email" && (
          // Posts to the SSO door, which starts SSO for an enforced domain and otherwise comes back here.
          <SsoForm envKey={envKey} returnTo={returnTo} className="flex flex-col gap-4">
            <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
              Email
              <input
                name="email"
                type="email"
                autoComplete="username"
                required
                defaultValue={rawEmail}
                aria-invalid={emailError ? true : undefined}
                aria-describedby={emailError ? "email-error" : undefined}
                className="rounded-md border border-slate-300 px-3 py-2 text-sm"
              />
              {emailError && (
                <span id="email-error" className="text-xs font-normal text-red-700">
                  {emailError}
                </span>
              )}
            </label>
            <Button type="submit">Continue</Button>
          </SsoForm>
        )}
        {step === "sso" && choices.length <= 1 && (
          <SsoForm envKey={envKey} returnTo={returnTo} className="flex flex-col gap-4">
            <p className="text-sm text-slate-600">{email} signs in with single sign-on.</p>
            <input type="hidden" name="email" value={email} />
            <Button type="submit">Continue with single sign-on</Button>
          </SsoForm>
        )}
        {((step === "sso" && choices.length > 1) || step === "choose") && (
          <SsoForm envKey={envKey} returnTo={returnTo} className="flex flex-col gap-3">
            <p id="idp-choice" className="text-sm text-slate-600">
              {email ? `${email} can sign in with several identity providers.` : "Sign in with your organisation's identity provider."} Choose one:
            </p>
            {email && <input type="hidden" name="email" value={email} />}
            <div role="group" aria-labelledby="idp-choice" className="flex flex-col gap-2">
              {choices.map((c) => (
                <Button key={c.id} type="submit" name="identity_provider" value={c.id} variant="secondary">
                  Continue with {c.name}
                </Button>
              ))}
            </div>
          </SsoForm>
        )}
        {step === "password" && <PasswordForm envKey={envKey} email={email} returnTo={returnTo} />}
        {step === "none" && (
          <p role="alert" className="text-sm text-red-800">
            {noneReason}
          </p>
        )}
      </div>
      <div className="mt-5 flex flex-col gap-2 border-t border-slate-100 pt-4 text-sm">
        {settings.ssoEnabled && settings.identityProviderId && step !== "sso" && step !== "choose" && !(step === "email" && enforcedForAll) && (
          <SsoForm envKey={envKey} returnTo={returnTo}>
            <button type="submit" className="text-brand-700 hover:underline">
              Sign in with single sign-on
            </button>
          </SsoForm>
        )}
        {settings.ssoEnabled && settings.enforcement !== "optional" && step === "email" && (
          <Link href={`/e/${envKey}/sign-in?method=password`} className="text-slate-600 hover:underline">
            Use a password (break-glass accounts only)
          </Link>
        )}
        {step !== "email" && (
          <Link href={`/e/${envKey}/sign-in`} className="text-slate-600 hover:underline">
            Use another email
          </Link>
        )}
      </div>
    </section>
  );
}

function SsoForm({ envKey, returnTo, className, children }: { envKey: string; returnTo?: string; className?: string; children: ReactNode }) {
  return (
    <form method="post" action={`/e/${envKey}/sso`} className={className}>
      {returnTo && <input type="hidden" name="return_to" value={returnTo} />}
      {children}
    </form>
  );
}
