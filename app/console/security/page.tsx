import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { StepUpDialog } from "@/components/console/step-up";
import { Card, PageHeader } from "@/components/ui/card";
import { contextFromSession, getConsoleSession } from "@/lib/auth/session";
import { listOwnConsoleSessions, ownPasswordRefusal } from "@/lib/console-members/own-account";
import { ChangePasswordForm, OwnSessions } from "./own-account-forms";
import { listEnvironments } from "@/lib/environments";
import { consoleSecurity, memberOwner, secondFactorsOf } from "@/lib/second-factor";
import { SecondFactors } from "@/components/second-factors";
import {
  confirmTotpAction,
  finishPasskeyAction,
  regenerateRecoveryCodesAction,
  removeSecondFactorAction,
  startPasskeyAction,
  startTotpAction,
} from "./actions";
import { ConsoleSsoForm, PasswordResetPolicy, RequireSecondFactor } from "./security-forms";
import { consoleSsoSettings } from "@/lib/console-sso";
import { listIdentityProviders } from "@/lib/sso/identity-providers";

export const metadata: Metadata = { title: "Security" };
export const dynamic = "force-dynamic";

// A member's own sign-in security, outside any environment: their second factors and recovery
// codes; for owners, whether the console requires a second factor. A member the console requires
// to enrol is sent here and may go nowhere else until they have (lib/auth/session.ts).
export default async function SecurityPage() {
  const session = await getConsoleSession();
  if (!session) redirect("/sign-in?callbackUrl=/console/security");
  const owner = session.member.role === "owner";
  const ctx = { ...(await contextFromSession(session)), sessionId: session.sessionId };
  const [summary, policy, envs, sso, idps, sessions, passwordRefusal] = await Promise.all([
    secondFactorsOf(memberOwner(session.member.id)),
    consoleSecurity(),
    listEnvironments(),
    owner ? consoleSsoSettings() : null,
    owner ? listIdentityProviders() : [],
    listOwnConsoleSessions(ctx),
    ownPasswordRefusal(ctx.actor),
  ]);
  const first = envs[0];
  return (
    <main id="main" className="mx-auto flex max-w-3xl flex-col gap-6 p-6">
      <StepUpDialog />
      <PageHeader title="Security" description={`How ${session.member.email} proves who they are when signing in to the console, and where they are signed in.`}>
        {!session.mustEnrol && first && (
          <a href={`/console/${first.key}`} className="text-sm text-brand-700 underline">
            Back to the console
          </a>
        )}
      </PageHeader>
      {session.mustEnrol && (
        <p role="status" className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
          The console requires a second factor for every member. Add an authenticator app to continue.
        </p>
      )}
      <Card>
        <SecondFactors
          factors={summary.factors.map((f) => ({ id: f.id, kind: f.kind, name: f.name, createdAt: f.createdAt.toISOString(), lastUsedAt: f.lastUsedAt?.toISOString() ?? null }))}
          recoveryCodesLeft={summary.recoveryCodesLeft}
          actions={{ startTotp: startTotpAction, confirmTotp: confirmTotpAction, startPasskey: startPasskeyAction, finishPasskey: finishPasskeyAction, remove: removeSecondFactorAction, regenerate: regenerateRecoveryCodesAction }}
        />
      </Card>
      {!session.mustEnrol && (
        <Card>
          <ChangePasswordForm email={session.member.email} refusal={passwordRefusal} />
        </Card>
      )}
      <Card>
        <OwnSessions
          sessions={sessions.map((s) => ({ id: s.id, current: s.current, method: s.method, createdAt: s.createdAt.toISOString(), lastSeenAt: s.lastSeenAt.toISOString(), ip: s.ip, userAgent: s.userAgent }))}
        />
      </Card>
      {session.member.role === "owner" && !session.mustEnrol && (
        <Card>
          <RequireSecondFactor required={policy.requireSecondFactor} ownHasFactor={summary.factors.length > 0} />
        </Card>
      )}
      {owner && !session.mustEnrol && (
        <Card>
          <PasswordResetPolicy allowed={policy.selfServiceReset} />
        </Card>
      )}
      {owner && sso && !session.mustEnrol && (
        <Card>
          <ConsoleSsoForm
            settings={{ enabled: sso.enabled, identityProviderId: sso.identityProvider?.id ?? null, passwordSignIn: sso.passwordSignIn, mappings: sso.mappings }}
            identityProviders={idps.map((i) => ({ id: i.id, name: i.name }))}
            environments={envs.map((e) => ({ id: e.id, name: e.name }))}
            ownHasFactor={summary.factors.length > 0}
          />
        </Card>
      )}
    </main>
  );
}
