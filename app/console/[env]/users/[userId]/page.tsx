import Link from "next/link";
import { secondFactorsOf, userOwner } from "@/lib/second-factor";
import { notFound } from "next/navigation";
import { Badge, Card, PageHeader } from "@/components/ui/card";
import { AuditList } from "@/components/console/audit-list";
import { consolePage } from "@/lib/doors/http/console-page";
import { can } from "@/lib/permissions";
import { getUserDetail, userAuditEntries } from "@/lib/users/detail";
import { FEATURES, FEATURE_LABELS } from "@/db/enums";
import { listResources, RESOURCE_NOUN } from "@/lib/access/resources";
import { ExplainForm } from "../../access/access-forms";
import { AccountActions } from "./account-actions";
import { UserPanel } from "./user-panel";
import { LiftExclusion } from "./lift-exclusion";
import { DisconnectApp } from "./connected-app";
import { LinkedIdentities } from "./identities";
import { listUserIdentities } from "@/lib/sso/identities";
import { listIdentityProviders } from "@/lib/sso/identity-providers";
import { connectedApps } from "@/lib/oauth/consents";
import { listUserExclusions } from "@/lib/groups/exclusions";

export const metadata = { title: "User" };

export default async function UserPage({ params }: { params: Promise<{ env: string; userId: string }> }) {
  const { env, actor, params: { userId } } = await consolePage(params);
  const detail = await getUserDetail(userId);
  if (!detail) notFound();
  const [audit, exclusions, factors, apps, identities, idps] = await Promise.all([
    userAuditEntries(userId),
    listUserExclusions(userId),
    secondFactorsOf(userOwner(userId)),
    connectedApps(env.id, userId),
    listUserIdentities(userId),
    listIdentityProviders(),
  ]);
  const grantedIds = detail.access.filter((a) => a.granted).map((a) => a.environmentId);
  const resources = await listResources(env.id);
  const targets = FEATURES.flatMap((f) => [
    { id: null, feature: f, label: `All of ${FEATURE_LABELS[f]}` },
    ...resources.filter((r) => r.feature === f).map((r) => ({ id: r.id, feature: f, label: `${FEATURE_LABELS[f]}: ${RESOURCE_NOUN[f]} ${r.name}` })),
  ]);

  return (
    <>
      <Link href={`/console/${env.key}/users`} className="text-sm text-brand-700 hover:underline">
        ← Users
      </Link>
      <PageHeader title={detail.user.name} description={detail.user.email}>
        <Badge tone={detail.user.status === "active" ? "green" : detail.user.status === "invited" ? "blue" : "amber"}>{detail.user.status}</Badge>
      </PageHeader>
      <UserPanel
        user={{ id: detail.user.id, name: detail.user.name, email: detail.user.email, status: detail.user.status, version: detail.user.version, source: detail.user.source }}
        access={detail.access}
        groups={detail.groups}
        canWrite={can(actor, "users", "write", grantedIds.length ? grantedIds : [])}
        writableEnvironments={detail.access.filter((a) => can(actor, "environment_access", "write", [a.environmentId])).map((a) => a.environmentId)}
      />
      <div className="mt-6 grid gap-6 xl:grid-cols-2">
        <Card>
          <h2 className="text-base font-semibold">Sessions</h2>
          {detail.sessions.length === 0 ? (
            <p className="mt-2 text-sm text-slate-500">No active session.</p>
          ) : (
            <ul className="mt-2 text-sm">
              {detail.sessions.map((s) => (
                <li key={s.id}>
                  {s.environmentKey.toUpperCase()} · {s.method} · since {s.createdAt.toISOString().slice(0, 16).replace("T", " ")} · {s.ip ?? "unknown address"}
                </li>
              ))}
            </ul>
          )}
          <p className="mt-2 text-sm" data-testid="user-second-factors">
            Second factors: {factors.factors.length ? factors.factors.map((f) => `${f.kind === "totp" ? "authenticator app" : "passkey"} “${f.name}”`).join(", ") : "none"}
          </p>
          {can(actor, "users", "write", grantedIds) && (
            <AccountActions
              secondFactors={factors.factors.length}
              userId={detail.user.id}
              environment={{ id: env.id, name: env.name }}
              canInvite={grantedIds.includes(env.id) && detail.user.status !== "suspended" && detail.user.status !== "deprovisioned"}
            />
          )}
        </Card>
        <Card>
          <h2 className="text-base font-semibold">Linked identities</h2>
          <LinkedIdentities
            userId={detail.user.id}
            identities={identities.map((i) => ({ ...i, firstUsedAt: i.firstUsedAt.toISOString().slice(0, 16).replace("T", " "), lastUsedAt: i.lastUsedAt?.toISOString().slice(0, 16).replace("T", " ") ?? null }))}
            identityProviders={idps.map((i) => ({ id: i.id, name: i.name }))}
            canWrite={can(actor, "users", "write", grantedIds)}
          />
        </Card>
        <Card>
          <h2 className="text-base font-semibold">Connected apps in {env.name}</h2>
          {apps.length === 0 ? (
            <p className="mt-2 text-sm text-slate-600">No app (MCP client) is connected to this user here.</p>
          ) : (
            <ul className="mt-2 flex flex-col gap-2 text-sm" data-testid="user-connected-apps">
              {apps.map((app) => (
                <li key={app.id} className="flex items-center justify-between gap-2">
                  <span>
                    {app.clientName} · {app.server.name} · since {app.createdAt.toISOString().slice(0, 10)}
                  </span>
                  {can(actor, "users", "write", [env.id]) && <DisconnectApp consentId={app.id} label={`${app.clientName} from ${app.server.name}`} />}
                </li>
              ))}
            </ul>
          )}
        </Card>
        <Card>
          <h2 className="mb-1 text-base font-semibold">Explain access in {env.name}</h2>
          <p className="mb-3 text-sm text-slate-600">May {detail.user.name} use a feature or resource here, and through which group and grant?</p>
          <ExplainForm environment={env.key} environmentId={env.id} resources={targets} fixedUser={{ id: detail.user.id, name: detail.user.name }} />
        </Card>
        {exclusions.length > 0 && (
          <Card className="xl:col-span-2">
            <h2 className="text-base font-semibold">Excluded from sync</h2>
            <p className="mt-1 text-sm text-slate-600">Revoked in an access review: no sync adds it back while the exclusion stands (the directory or identity provider that owned it; any, for what an admin had granted by hand).</p>
            <table className="mt-3 w-full text-left text-sm" data-testid="user-exclusions">
              <caption className="sr-only">Exclusions of {detail.user.name}</caption>
              <thead>
                <tr className="text-slate-600">
                  <th scope="col" className="py-1 pr-3 font-medium">What</th>
                  <th scope="col" className="py-1 pr-3 font-medium">Owned by</th>
                  <th scope="col" className="py-1 pr-3 font-medium">Reason</th>
                  <th scope="col" className="py-1 pr-3 font-medium">Since</th>
                  <th scope="col" className="py-1 font-medium">
                    <span className="sr-only">Status</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {exclusions.map((e) => {
                  const what = e.kind === "member" ? `${e.groupName ?? "a deleted group"} (${e.environmentKey.toUpperCase()})` : `access to ${e.environmentKey.toUpperCase()}`;
                  return (
                    <tr key={e.id} className="border-t border-slate-100 align-top">
                      <td className="py-2 pr-3">{what}</td>
                      <td className="py-2 pr-3">
                        {e.source === "manual" ? "An admin (by hand)" : `${e.source === "scim" ? "Directory" : "Identity provider"} ${e.sourceName ?? ""}`}
                      </td>
                      <td className="py-2 pr-3">
                        {e.reason}
                        {e.reviewId && e.reviewName && (
                          <span className="block text-xs text-slate-500">
                            Review{" "}
                            <Link className="text-brand-700 underline" href={`/console/${e.environmentKey}/reviews/${e.reviewId}`}>
                              {e.reviewName}
                            </Link>
                            , by {e.createdBy}
                          </span>
                        )}
                      </td>
                      <td className="whitespace-nowrap py-2 pr-3">{e.createdAt.toISOString().slice(0, 10)}</td>
                      <td className="py-2">
                        {e.liftedAt ? (
                          <span className="text-slate-600">
                            Lifted by {e.liftedBy}, {e.liftedAt.toISOString().slice(0, 10)}
                          </span>
                        ) : can(actor, e.kind === "member" ? "memberships" : "environment_access", "write", [e.environmentId]) ? (
                          <LiftExclusion exclusionId={e.id} label={what} />
                        ) : (
                          <Badge tone="amber">standing</Badge>
                        )}
                      </td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </Card>
        )}
        <Card>
          <h2 className="text-base font-semibold">History</h2>
          <AuditList events={audit} />
        </Card>
      </div>
    </>
  );
}
