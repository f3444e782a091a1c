import { redirect } from "next/navigation";
import { readFlash } from "@/lib/end-user/flash";
import { Button } from "@/components/ui/button";
import { isDomainError } from "@/lib/errors";
import { answerConsent, consentRequest, rememberedConsent } from "@/lib/oauth/consents";
import { currentEndUserSession } from "../../../session";
import { answerConsentAction } from "../../actions";
import { interactionCookie } from "../../interaction-cookie";

export const metadata = { title: "Allow an app" };
export const dynamic = "force-dynamic";

// The consent screen of the environment's OAuth authorization server (lib/oauth): an app (an MCP
// client) asks to use an MCP server as the signed-in user. Signed out: the environment's own
// sign-in first (password, SSO, second factor), then back here. Allowed before (the same app and
// server, not revoked): straight on.
export default async function ConsentPage({ params, searchParams }: { params: Promise<{ env: string; uid: string }>; searchParams: Promise<{ error?: string }> }) {
  const { env: envKey, uid } = await params;
  const answerError = readFlash((await searchParams).error);
  const here = `/e/${envKey}/apps/consent/${uid}`;
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in?return_to=${encodeURIComponent(here)}`);
  if (current.mustEnrol) redirect(`/e/${envKey}`);
  let request;
  try {
    request = await consentRequest(envKey, uid);
  } catch (error) {
    if (!isDomainError(error)) throw error;
    return <CannotContinue message={error.message} />;
  }
  if (await rememberedConsent(current, request)) {
    let target: string | null = null;
    try {
      target = await answerConsent(current, envKey, uid, true, await interactionCookie());
    } catch (error) {
      if (!isDomainError(error)) throw error;
      return <CannotContinue message={error.message} />;
    }
    redirect(target);
  }
  const allow = answerConsentAction.bind(null, envKey, uid, true);
  const deny = answerConsentAction.bind(null, envKey, uid, false);
  return (
    <section className="mx-auto max-w-lg rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="consent-title">
      <h1 id="consent-title" className="text-xl font-semibold">
        Allow {request.client.name} to use {request.server.name}?
      </h1>
      <p className="mt-3 text-sm text-slate-700">
        <strong>{request.client.name}</strong> asks to use the MCP server <strong>{request.server.name}</strong> in {request.environment.name} as you ({current.user.email}).
      </p>
      <ul className="mt-3 list-disc pl-5 text-sm text-slate-700">
        <li>It may call the server&apos;s tools you are allowed to use (your access decides each call).</li>
        <li>It stays connected until you disconnect it (Connected apps) or an administrator does.</li>
        <li>
          It returns to <code className="rounded bg-slate-100 px-1">{request.redirectUri}</code>.
        </li>
      </ul>
      {answerError && (
        <p role="alert" className="mt-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
          {answerError}
        </p>
      )}
      <div className="mt-6 flex gap-3">
        <form action={allow}>
          <Button type="submit">Allow</Button>
        </form>
        <form action={deny}>
          <Button type="submit" variant="secondary">
            Deny
          </Button>
        </form>
      </div>
    </section>
  );
}

function CannotContinue({ message }: { message: string }) {
  return (
    <section className="mx-auto max-w-lg rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 className="text-xl font-semibold">This request cannot continue</h1>
      <p role="alert" className="mt-3 text-sm text-red-800">
        {message}
      </p>
    </section>
  );
}
