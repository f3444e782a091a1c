import Link from "next/link";
import { redirect } from "next/navigation";
import { Button } from "@/components/ui/button";
import { getDb } from "@/db/client";
import { FEATURE_LABELS, FEATURES, type Feature } from "@/db/enums";
import { entitlementsOf } from "@/lib/access/policy";
import { listResources } from "@/lib/access/resources";
import { userGroupsIn } from "@/lib/sso/provision";
import { mcpServerUrl } from "@/lib/tokens/mint";
import { SecondFactors } from "@/components/second-factors";
import { getAuthRow } from "@/lib/sso/environment-auth";
import { identityProviderName } from "@/lib/sso/identity-providers";
import { secondFactorsOf, userOwner } from "@/lib/second-factor";
import {
  confirmTotpForUserAction,
  finishPasskeyForUserAction,
  regenerateRecoveryCodesForUserAction,
  removeSecondFactorForUserAction,
  signOutAction,
  startPasskeyForUserAction,
  startTotpForUserAction,
} from "./actions";
import { McpToken } from "./mcp-token";
import { ChangePasswordForm, SignOutOthersForm } from "./forms";
import { endUserPasswordRefusal } from "@/lib/end-user/password-accounts";
import { currentEndUserSession } from "./session";

export const metadata = { title: "Home" };

// The end-user home (the Workato GO experience): what this user may use here, from the same
// policy the components enforce.
export default async function EndUserHome({ params }: { params: Promise<{ env: string }> }) {
  const { env: envKey } = await params;
  const current = await currentEndUserSession(envKey);
  if (!current) redirect(`/e/${envKey}/sign-in`);
  const { user, environment, session } = current;
  const [settings, factors] = await Promise.all([getAuthRow(environment.id), secondFactorsOf(userOwner(user.id))]);
  const security = (
    <SecondFactors
      factors={factors.factors.map((f) => ({ id: f.id, kind: f.kind, name: f.name, createdAt: f.createdAt.toISOString(), lastUsedAt: f.lastUsedAt?.toISOString() ?? null }))}
      recoveryCodesLeft={factors.recoveryCodesLeft}
      actions={{
        startTotp: startTotpForUserAction.bind(null, envKey),
        confirmTotp: confirmTotpForUserAction.bind(null, envKey),
        startPasskey: startPasskeyForUserAction.bind(null, envKey),
        finishPasskey: finishPasskeyForUserAction.bind(null, envKey),
        remove: removeSecondFactorForUserAction.bind(null, envKey),
        regenerate: regenerateRecoveryCodesForUserAction.bind(null, envKey),
      }}
    />
  );
  const signOut = (
    <form action={signOutAction.bind(null, envKey)} className="mt-6">
      <Button type="submit" variant="secondary">
        Sign out
      </Button>
    </form>
  );
  // The security section keeps its place whichever way the page renders, so the recovery codes shown
  // after adding the first factor stay on screen when the page refreshes into the home below.
  const securitySection = (current.mustEnrol || settings.secondFactor !== "off" || factors.factors.length > 0) && (
    <section key="security" className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">{security}</section>
  );
  // This environment requires a second factor and the user has none: adding one comes first.
  if (current.mustEnrol) {
    return (
      <div className="flex flex-col gap-6">
        <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          <h1 className="text-xl font-semibold">Add a second factor</h1>
          <p role="status" className="mt-2 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
            {environment.name} requires a second factor when you sign in with a password. Add an authenticator app or a passkey to continue.
          </p>
          {signOut}
        </section>
        {securitySection}
      </div>
    );
  }
  const [groups, held, resources, idpName, passwordRefusal] = await Promise.all([
    userGroupsIn(getDb(), user.id, environment.id),
    entitlementsOf(environment.id, user.id),
    listResources(environment.id),
    // The IdP the session came from (gone if an admin deleted it since).
    session.method === "sso" && session.identityProviderId ? identityProviderName(session.identityProviderId) : null,
    endUserPasswordRefusal(current),
  ]);
  const usable = (feature: Feature) => {
    const granted = held.entitlements[feature] ?? [];
    return resources.filter((r) => r.feature === feature && (granted.includes("*") || granted.includes(r.id)));
  };
  const genies = usable("agent_studio");
  const workspaces = usable("workato_go");
  const servers = usable("mcp");
  return (
    <div className="flex flex-col gap-6">
      <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-xl font-semibold">Welcome, {user.name}</h1>
        <dl className="mt-4 grid grid-cols-[max-content_1fr] gap-x-6 gap-y-2 text-sm">
          <dt className="text-slate-500">Email</dt>
          <dd data-testid="end-user-email">{user.email}</dd>
          <dt className="text-slate-500">Environment</dt>
          <dd>{environment.name}</dd>
          <dt className="text-slate-500">Signed in with</dt>
          <dd data-testid="end-user-method">{session.method === "sso" ? (idpName ? `single sign-on (${idpName})` : "single sign-on") : "password"}</dd>
          <dt className="text-slate-500">Groups here</dt>
          <dd>
            <ul data-testid="end-user-groups" className="flex flex-wrap gap-2">
              {groups.map((g) => (
                <li key={g.id} className="rounded bg-slate-100 px-2 py-0.5">
                  {g.name}
                </li>
              ))}
            </ul>
          </dd>
          <dt className="text-slate-500">Features</dt>
          <dd>{FEATURES.filter((f) => held.entitlements[f]).map((f) => FEATURE_LABELS[f]).join(", ") || "none yet"}</dd>
        </dl>
        {signOut}
      </section>
      <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="genies">
        <h2 id="genies" className="text-lg font-semibold">Genies</h2>
        {genies.length === 0 ? (
          <p className="mt-2 text-sm text-slate-500">No genie is available to you here.</p>
        ) : (
          <ul className="mt-2 grid gap-2 sm:grid-cols-2" data-testid="genies">
            {genies.map((g) => (
              <li key={g.id} className="rounded-md border border-slate-200 p-3">
                <Link className="font-medium text-brand-700 hover:underline" href={`/e/${envKey}/genies/${g.id}`}>
                  {g.name}
                </Link>
                <p className="text-sm text-slate-600">{g.description}</p>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="mcp">
        <h2 id="mcp" className="text-lg font-semibold">MCP servers</h2>
        <p className="mt-1 text-sm text-slate-600">
          MCP clients (Claude, Cursor, …) connect with the server&apos;s URL and sign you in here.{" "}
          <Link className="text-brand-700 underline" href={`/e/${envKey}/apps`}>
            Connected apps
          </Link>
        </p>
        {servers.length === 0 ? (
          <p className="mt-2 text-sm text-slate-500">No MCP server is available to you here.</p>
        ) : (
          <ul className="mt-2 flex flex-col gap-2" data-testid="mcp-servers">
            {servers.map((s) => (
              <li key={s.id} className="rounded-md border border-slate-200 p-3">
                <p className="font-medium">{s.name}</p>
                <p className="text-sm text-slate-600">
                  <code className="rounded bg-slate-100 px-1">{mcpServerUrl(s.id)}</code>
                </p>
                <McpToken envKey={envKey} audience={mcpServerUrl(s.id)} />
              </li>
            ))}
          </ul>
        )}
      </section>
      {workspaces.length > 0 && (
        <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="workspaces">
          <h2 id="workspaces" className="text-lg font-semibold">Workato GO workspaces</h2>
          <ul className="mt-2 flex flex-wrap gap-2">
            {workspaces.map((w) => (
              <li key={w.id} className="rounded bg-slate-100 px-2 py-1 text-sm">
                {w.name}
              </li>
            ))}
          </ul>
        </section>
      )}
      {securitySection}
      <section className="rounded-lg border border-slate-200 bg-white p-6 shadow-sm" aria-labelledby="account">
        <h2 id="account" className="text-lg font-semibold">Your account</h2>
        <h3 className="mt-3 text-sm font-semibold">Password</h3>
        <ChangePasswordForm envKey={envKey} email={user.email} refusal={passwordRefusal} />
        <h3 className="mt-6 text-sm font-semibold">Sessions</h3>
        <p className="mt-1 text-sm text-slate-600">Signed in somewhere you do not recognise? End your other sessions: other browsers, other environments and the apps you signed in to stop at once; this one stays.</p>
        <SignOutOthersForm envKey={envKey} />
      </section>
    </div>
  );
}
