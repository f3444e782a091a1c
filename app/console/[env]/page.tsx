import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { requireConsoleSession } from "@/lib/auth/session";
import { environmentStatusBreakdown, environmentSummaries } from "@/lib/environments";
import { EnvironmentChart } from "@/components/console/environment-chart";
import { SignInChart } from "@/components/console/sign-in-chart";
import { signInActivity } from "@/lib/audit/queries";

export default async function OverviewPage({ params }: { params: Promise<{ env: string }> }) {
  await requireConsoleSession();
  const { env } = await params;
  const [summaries, breakdown] = await Promise.all([environmentSummaries(), environmentStatusBreakdown()]);
  const current = summaries.find((s) => s.key === env);
  if (!current) notFound();
  const activity = await signInActivity(current.id);
  return (
    <>
      <PageHeader title="Overview" description="Every environment at a glance: who may enter it, its groups, and how it signs users in." />
      <div className="grid gap-4 md:grid-cols-3">
        {summaries.map((s) => (
          <Card key={s.id} aria-labelledby={`env-${s.key}`} className={s.key === env ? "ring-2 ring-brand-500" : undefined}>
            <h2 id={`env-${s.key}`} className="text-lg font-semibold">
              {s.name}
            </h2>
            <dl className="mt-3 grid grid-cols-2 gap-y-2 text-sm">
              <dt className="text-slate-500">Users with access</dt>
              <dd className="text-right font-medium" data-testid={`users-${s.key}`}>
                {s.usersWithAccess.toLocaleString("en")}
              </dd>
              <dt className="text-slate-500">Groups</dt>
              <dd className="text-right font-medium">{s.groupCount.toLocaleString("en")}</dd>
              <dt className="text-slate-500">Sign-in</dt>
              <dd className="flex flex-wrap justify-end gap-1">
                {s.passwordEnabled && <Badge>Password</Badge>}
                {s.ssoEnabled &&
                  (s.identityProviderName ? (
                    <Badge tone="blue">SSO · {s.identityProviderName}</Badge>
                  ) : (
                    <Badge tone="amber">SSO (no IdP yet: password)</Badge>
                  ))}
              </dd>
            </dl>
          </Card>
        ))}
      </div>
      <Card className="mt-6">
        <h2 className="text-base font-semibold">Users per environment</h2>
        {breakdown.some((b) => b.estimated) && <p className="text-xs text-slate-500">Split by status estimated from a 1% sample where an environment has over 100,000 users.</p>}
        <EnvironmentChart data={breakdown} />
      </Card>
      <Card className="mt-6">
        <h2 className="text-base font-semibold">Sign-ins to {current.name}, last 14 days</h2>
        <p className="text-xs text-slate-500">Sign-ins of end users, from the audit trail, by method; failures beside successes.</p>
        <SignInChart data={activity} />
      </Card>
    </>
  );
}
