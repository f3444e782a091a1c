import Link from "next/link";
import { Card, PageHeader } from "@/components/ui/card";
import { CONSOLE_ROLES } from "@/db/enums";
import { getDb } from "@/db/client";
import { listConsoleMembers } from "@/lib/console-members";
import { passwordReservedForOwners, roleMayUsePassword } from "@/lib/console-sso/password-rule";
import { consolePage } from "@/lib/doors/http/console-page";
import { listEnvironments } from "@/lib/environments";
import { consoleMemberDenialReason } from "@/lib/permissions";
import { MembersTable, type MemberRow } from "./members";

export const metadata = { title: "Members" };

const when = (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace("T", " ") : null);

export default async function MembersPage({ params }: { params: Promise<{ env: string }> }) {
  const { env, actor, session } = await consolePage(params);
  const [members, environments, ownersOnlyPasswords] = await Promise.all([listConsoleMembers(actor), listEnvironments(), passwordReservedForOwners(getDb())]);
  // What this actor may do, decided by the domain's rule (the actions check it again).
  const canManage = consoleMemberDenialReason(actor) === null;
  const rows: MemberRow[] = members.map((m) => ({
    id: m.id,
    email: m.email,
    name: m.name,
    role: m.role,
    status: m.status,
    environments: m.environments.map((e) => e.key),
    environmentIds: m.environments.map((e) => e.id),
    lastSignInAt: when(m.lastSignInAt),
    activeSessions: m.activeSessions,
    secondFactors: m.secondFactors,
    invitationExpiresAt: when(m.invitationExpiresAt),
    singleSignOn: m.singleSignOn,
    // Whether an owner can send them a reset link: a password they may use (lib/console-members checks it again).
    hasPassword: m.hasPassword && roleMayUsePassword(m.role, ownersOnlyPasswords),
    manageable: consoleMemberDenialReason(actor, { current: m.role }) === null,
    self: m.id === session.member.id,
  }));
  return (
    <>
      <PageHeader
        title="Members"
        description="Who may use this console, in which role. Owners and admins invite and manage members; only owners invite, change, suspend or remove owners. The last active owner cannot be removed, demoted or suspended."
      >
        <Link href={`/console/${env.key}/settings`} className="text-sm text-brand-700 underline">
          Back to Settings
        </Link>
      </PageHeader>
      <Card className="p-0">
        <MembersTable
          rows={rows}
          canManage={canManage}
          assignableRoles={CONSOLE_ROLES.filter((role) => consoleMemberDenialReason(actor, { next: role }) === null)}
          environments={environments.map((e) => ({ id: e.id, key: e.key, name: e.name }))}
          refusal={canManage ? null : consoleMemberDenialReason(actor)}
          ownerView={actor.type === "console_member" && actor.role === "owner"}
        />
      </Card>
    </>
  );
}
