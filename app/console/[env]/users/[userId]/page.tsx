import Link from "next/link";
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

export const metadata = { title: "User" };

export default async function UserPage({ params }: { params: Promise<{ env: string; userId: string }> }) {
  const { env, actor, params: { userId } } = await consolePage(params);
  const detail = await getUserDetail(userId);
  if (!detail) notFound();
  const audit = await userAuditEntries(userId);
  const grantedIds = detail.access.filter((a) => a.granted).map((a) => a.environmentId);
  const resources = await listResources(env.id);
  const targets = FEATURES.flatMap((f) => [
    { id: null, feature: f, label: `All of ${FEATURE_LABELS[f]}` },
    ...resources.filter((r) => r.feature === f).map((r) => ({ id: r.id, feature: f, label: `${FEATURE_LABELS[f]}: ${RESOURCE_NOUN[f]} ${r.name}` })),
  ]);

  return (
    <>
      <Link href={`/console/${env.key}/users`} className="text-sm text-brand-700 hover:underline">
        ← Users & groups
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
          {can(actor, "users", "write", grantedIds) && (
            <AccountActions
              userId={detail.user.id}
              environment={{ id: env.id, name: env.name }}
              canInvite={grantedIds.includes(env.id) && detail.user.status !== "suspended" && detail.user.status !== "deprovisioned"}
            />
          )}
        </Card>
        <Card>
          <h2 className="mb-1 text-base font-semibold">Explain access in {env.name}</h2>
          <p className="mb-3 text-sm text-slate-600">May {detail.user.name} use a feature or resource here, and through which group and grant?</p>
          <ExplainForm environment={env.key} environmentId={env.id} resources={targets} fixedUser={{ id: detail.user.id, name: detail.user.name }} />
        </Card>
        <Card>
          <h2 className="text-base font-semibold">History</h2>
          <AuditList events={audit} />
        </Card>
      </div>
    </>
  );
}
