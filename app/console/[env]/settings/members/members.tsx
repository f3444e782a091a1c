"use client";

import { useMemo, useState } from "react";
import { createColumnHelper } from "@tanstack/react-table";
import { DataTable, dataTableFeatures, type Sort } from "@/components/data-table/data-table";
import { Badge } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { ConfirmDialog, Modal } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import { CONSOLE_ROLE_LABELS, type ConsoleMemberStatus, type ConsoleRole } from "@/db/enums";
import type { FieldErrors } from "@/lib/errors";
import {
  changeMemberRoleAction,
  inviteMemberAction,
  reactivateMemberAction,
  removeMemberAction,
  resendInvitationAction,
  resetSecondFactorsAction,
  sendPasswordResetAction,
  suspendMemberAction,
} from "./actions";

export type MemberRow = {
  id: string;
  email: string;
  name: string;
  role: ConsoleRole;
  status: ConsoleMemberStatus;
  environments: string[];
  environmentIds: string[];
  lastSignInAt: string | null;
  activeSessions: number;
  /** Kinds of second factor; empty until second factors exist. */
  secondFactors: string[];
  invitationExpiresAt: string | null;
  /** The IdP the member signs in through (console SSO); their role follows its groups at each sign-in. */
  singleSignOn: string | null;
  hasPassword: boolean;
  /** Whether the viewer may change this member (owners only for owners). */
  manageable: boolean;
  self: boolean;
};

type EnvironmentOption = { id: string; key: string; name: string };

const STATUS_TONE = { active: "green", invited: "blue", suspended: "amber" } as const;
const ROLE_RANK: Record<ConsoleRole, number> = { owner: 0, admin: 1, environment_admin: 2, reviewer: 3 };

const helper = createColumnHelper<typeof dataTableFeatures, MemberRow>();

type Pending = { kind: "suspend" | "reactivate" | "remove" | "resend" | "reset" | "password"; member: MemberRow } | null;
const FACTOR_LABEL: Record<string, string> = { totp: "Authenticator app", passkey: "Passkey" };

export function MembersTable({
  rows,
  canManage,
  assignableRoles,
  environments,
  refusal,
  ownerView = false,
}: {
  rows: MemberRow[];
  canManage: boolean;
  /** Owners signed in to the console reset other members' second factors and send them password reset links. */
  ownerView?: boolean;
  assignableRoles: ConsoleRole[];
  environments: EnvironmentOption[];
  refusal: string | null;
}) {
  const [sort, setSort] = useState<Sort | null>(null);
  const [inviting, setInviting] = useState(false);
  const [editing, setEditing] = useState<MemberRow | null>(null);
  const [confirm, setConfirm] = useState<Pending>(null);
  const { pending, run } = useAction();

  const columns = useMemo(
    () =>
      helper.columns([
        helper.accessor("name", {
          id: "name",
          header: "Member",
          cell: (c) => (
            <div className="max-w-xs break-words [overflow-wrap:anywhere]">
              <div className="font-medium">
                {c.getValue()}
                {c.row.original.self && <span className="ml-1 text-xs text-slate-500">(you)</span>}
              </div>
              <div className="text-xs text-slate-600">{c.row.original.email}</div>
            </div>
          ),
        }),
        helper.accessor("role", {
          id: "role",
          header: "Role",
          cell: (c) => (
            <div className="flex flex-wrap items-center gap-1">
              {CONSOLE_ROLE_LABELS[c.getValue()]}
              {c.row.original.environments.map((k) => (
                <Badge key={k}>{k.toUpperCase()}</Badge>
              ))}
            </div>
          ),
        }),
        helper.accessor("status", {
          id: "status",
          header: "Status",
          cell: (c) => (
            <div>
              <Badge tone={STATUS_TONE[c.getValue()]}>{c.getValue()}</Badge>
              {c.row.original.invitationExpiresAt && <div className="text-xs text-slate-500">link until {c.row.original.invitationExpiresAt}</div>}
              {c.row.original.singleSignOn && <div className="text-xs text-slate-600">signs in with {c.row.original.singleSignOn}; role follows its groups</div>}
            </div>
          ),
        }),
        helper.accessor("lastSignInAt", { id: "lastSignIn", header: "Last sign-in", cell: (c) => c.getValue() ?? "Never" }),
        helper.accessor("secondFactors", {
          id: "secondFactors",
          header: "Second factors",
          enableSorting: false,
          cell: (c) => (c.getValue().length ? c.getValue().map((k) => FACTOR_LABEL[k] ?? k).join(", ") : <span className="text-slate-500">none</span>),
        }),
        helper.accessor("activeSessions", { id: "sessions", header: "Sessions", cell: (c) => c.getValue() }),
        helper.display({
          id: "actions",
          header: () => <span className="sr-only">Actions</span>,
          cell: (c) => {
            const m = c.row.original;
            if (!canManage || !m.manageable) return null;
            return (
              <div className="flex flex-wrap justify-end gap-1">
                {ownerView && !m.self && m.status === "active" && m.hasPassword && (
                  <Button variant="ghost" aria-label={`Send ${m.email} a password reset link`} onClick={() => setConfirm({ kind: "password", member: m })}>
                    Send password reset
                  </Button>
                )}
                {ownerView && !m.self && m.secondFactors.length > 0 && (
                  <Button variant="ghost" aria-label={`Reset the second factors of ${m.email}`} onClick={() => setConfirm({ kind: "reset", member: m })}>
                    Reset second factors
                  </Button>
                )}
                <Button variant="ghost" aria-label={`Change role of ${m.email}`} onClick={() => setEditing(m)}>
                  Change role
                </Button>
                {m.status === "invited" && (
                  <Button variant="ghost" aria-label={`Send the invitation to ${m.email} again`} onClick={() => setConfirm({ kind: "resend", member: m })}>
                    Resend invitation
                  </Button>
                )}
                {m.status === "active" && (
                  <Button variant="ghost" aria-label={`Suspend ${m.email}`} onClick={() => setConfirm({ kind: "suspend", member: m })}>
                    Suspend
                  </Button>
                )}
                {m.status === "suspended" && (
                  <Button variant="ghost" aria-label={`Reactivate ${m.email}`} onClick={() => setConfirm({ kind: "reactivate", member: m })}>
                    Reactivate
                  </Button>
                )}
                <Button variant="ghost" className="text-red-700" aria-label={`Remove ${m.email}`} onClick={() => setConfirm({ kind: "remove", member: m })}>
                  Remove
                </Button>
              </div>
            );
          },
        }),
      ]),
    [canManage, ownerView],
  );

  const sorted = useMemo(() => {
    if (!sort) return rows;
    const key = (m: MemberRow): string | number =>
      sort.id === "role" ? ROLE_RANK[m.role] : sort.id === "sessions" ? m.activeSessions : sort.id === "lastSignIn" ? (m.lastSignInAt ?? "") : sort.id === "status" ? m.status : m.name.toLowerCase();
    return [...rows].sort((a, b) => {
      const x = key(a);
      const y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (sort.desc ? -1 : 1);
    });
  }, [rows, sort]);

  const confirmText = confirm && CONFIRM[confirm.kind](confirm.member);

  return (
    <div>
      <div className="flex flex-wrap items-center justify-between gap-3 border-b border-slate-100 p-4">
        <p className="text-sm text-slate-600">
          {rows.length} member{rows.length === 1 ? "" : "s"}. Suspending, removing or changing a member&apos;s role ends their console sessions.
        </p>
        {canManage ? (
          <Button onClick={() => setInviting(true)}>Invite member</Button>
        ) : (
          <p className="text-sm text-slate-500">Only owners and admins manage members. {refusal}</p>
        )}
      </div>
      <DataTable columns={columns} data={sorted} sort={sort} onSortChange={setSort} caption="Console members" empty="No member." />

      {inviting && (
        <RoleDialog
          mode="invite"
          open
          onOpenChange={setInviting}
          roles={assignableRoles}
          environments={environments}
          onSubmit={(input, setErrors) =>
            run(() => inviteMemberAction(input), {
              error: "inline",
              fieldErrors: setErrors,
              success: (d) => `Invitation sent to ${d.email}. The link works once and expires on ${d.expiresAt.slice(0, 10)}.`,
              onSuccess: () => setInviting(false),
            })
          }
          pending={pending}
        />
      )}
      {editing && (
        <RoleDialog
          mode="change"
          member={editing}
          open
          onOpenChange={(open) => !open && setEditing(null)}
          roles={assignableRoles}
          environments={environments}
          onSubmit={(input, setErrors) =>
            run(() => changeMemberRoleAction(editing.id, { role: input.role, environmentIds: input.environmentIds }), {
              error: "inline",
              fieldErrors: setErrors,
              success: (d) => (d.changed ? `Role changed; ${d.sessionsEnded} session${d.sessionsEnded === 1 ? "" : "s"} ended.` : "Nothing changed."),
              onSuccess: () => setEditing(null),
            })
          }
          pending={pending}
        />
      )}
      {confirm && confirmText && (
        <ConfirmDialog
          open
          onOpenChange={(open) => !open && setConfirm(null)}
          title={confirmText.title}
          description={confirmText.description}
          confirmLabel={confirmText.label}
          pending={pending}
          onConfirm={() => {
            const id = confirm.member.id;
            const settle = { onSettled: () => setConfirm(null) };
            if (confirm.kind === "suspend") run(() => suspendMemberAction(id), { ...settle, success: (d) => `Suspended; ${d.sessionsEnded} session${d.sessionsEnded === 1 ? "" : "s"} ended.` });
            if (confirm.kind === "reactivate") run(() => reactivateMemberAction(id), { ...settle, success: "Reactivated." });
            if (confirm.kind === "remove") run(() => removeMemberAction(id), { ...settle, success: "Removed." });
            if (confirm.kind === "reset") run(() => resetSecondFactorsAction(id), { ...settle, success: (d) => `Second factors reset; ${d.sessionsEnded} session${d.sessionsEnded === 1 ? "" : "s"} ended.` });
            if (confirm.kind === "password") run(() => sendPasswordResetAction(id), { ...settle, success: (d) => `Reset link sent; it works once, until ${d.expiresAt.slice(11, 16)} UTC.` });
            if (confirm.kind === "resend") run(() => resendInvitationAction(id), { ...settle, success: (d) => `Invitation sent again; the new link expires on ${d.expiresAt.slice(0, 10)}.` });
          }}
        />
      )}
    </div>
  );
}

const CONFIRM: Record<NonNullable<Pending>["kind"], (m: MemberRow) => { title: string; description: string; label: string }> = {
  suspend: (m) => ({ title: `Suspend ${m.email}?`, description: "They are signed out at once and cannot sign in until reactivated; the reviewer API tokens they made are revoked.", label: "Suspend" }),
  reactivate: (m) => ({ title: `Reactivate ${m.email}?`, description: "They can sign in again with their password.", label: "Reactivate" }),
  remove: (m) => ({
    title: `Remove ${m.email}?`,
    description: "They lose access to the console at once; their sessions, reviewer API tokens, pending invitation and review assignments go. The audit trail keeps their changes.",
    label: "Remove",
  }),
  password: (m) => ({
    title: `Send ${m.email} a password reset link?`,
    description:
      "They get a link by mail that sets a new console password; it works once, for an hour. Their password and sessions stay as they are until they use it, which signs them out everywhere. Their second factor stays. Without a mail server the mail waits in the outbox, where only owners can read it.",
    label: "Send link",
  }),
  reset: (m) => ({
    title: `Reset the second factors of ${m.email}?`,
    description: "Their authenticator apps, passkeys and recovery codes stop working and they are signed out. They sign in with their password and, when the console requires it, add a second factor again.",
    label: "Reset",
  }),
  resend: (m) => ({ title: `Send the invitation to ${m.email} again?`, description: "A new link is mailed; the earlier one stops working.", label: "Send again" }),
};

type RoleInput = { email?: string; name?: string; role: ConsoleRole; environmentIds: string[] };

function RoleDialog({
  mode,
  member,
  open,
  onOpenChange,
  roles,
  environments,
  onSubmit,
  pending,
}: {
  mode: "invite" | "change";
  member?: MemberRow;
  open: boolean;
  onOpenChange: (open: boolean) => void;
  roles: ConsoleRole[];
  environments: EnvironmentOption[];
  onSubmit: (input: RoleInput, setErrors: (errors: FieldErrors) => void) => void;
  pending: boolean;
}) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [role, setRole] = useState<ConsoleRole>(member?.role ?? (roles.includes("reviewer") ? "reviewer" : roles[0]!));
  const [envIds, setEnvIds] = useState<string[]>(member?.environmentIds ?? []);
  const title = mode === "invite" ? "Invite a console member" : `Change the role of ${member!.email}`;
  return (
    <Modal
      open={open}
      onOpenChange={onOpenChange}
      title={title}
      description={
        mode === "invite"
          ? "They get a mail with a link that works once and expires in 7 days; it sets their password, then they sign in."
          : member?.singleSignOn
            ? `Their console sessions end; they sign in again with the new role. They sign in with ${member.singleSignOn}: their next sign-in there sets the role from its groups again.`
            : "Their console sessions end; they sign in again with the new role."
      }
      footer={
        <>
          <Button variant="secondary" onClick={() => onOpenChange(false)}>
            Cancel
          </Button>
          <Button type="submit" form="member-role-form" disabled={pending}>
            {mode === "invite" ? "Send invitation" : "Change role"}
          </Button>
        </>
      }
    >
      <form
        id="member-role-form"
        className="mt-4 flex flex-col gap-4"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          const data = new FormData(e.currentTarget);
          onSubmit(
            {
              email: mode === "invite" ? String(data.get("email") ?? "") : undefined,
              name: mode === "invite" ? String(data.get("name") ?? "") : undefined,
              role,
              environmentIds: role === "environment_admin" ? envIds : [],
            },
            setErrors,
          );
        }}
      >
        {mode === "invite" && (
          <>
            <Field label="Email" name="email" type="email" autoComplete="off" required errors={errors.email} />
            <Field label="Name (optional)" name="name" autoComplete="off" errors={errors.name} />
          </>
        )}
        <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
          Role
          <select name="role" value={role} onChange={(e) => setRole(e.target.value as ConsoleRole)} className="rounded-md border border-slate-300 px-2 py-2 text-sm">
            {roles.map((r) => (
              <option key={r} value={r}>
                {CONSOLE_ROLE_LABELS[r]}
              </option>
            ))}
          </select>
        </label>
        <p className="-mt-2 text-xs text-slate-500">{ROLE_HELP[role]}</p>
        {role === "environment_admin" && (
          <fieldset className="flex flex-col gap-1">
            <legend className="text-sm font-medium text-slate-700">Environments</legend>
            <div className="flex flex-wrap gap-3">
              {environments.map((env) => (
                <label key={env.id} className="flex items-center gap-1 text-sm">
                  <input
                    type="checkbox"
                    checked={envIds.includes(env.id)}
                    onChange={(e) => setEnvIds((ids) => (e.target.checked ? [...ids, env.id] : ids.filter((id) => id !== env.id)))}
                  />
                  {env.name}
                </label>
              ))}
            </div>
            {errors.environmentIds && <p className="text-sm text-red-700">{errors.environmentIds.join(" ")}</p>}
          </fieldset>
        )}
        {errors.role && <p className="text-sm text-red-700">{errors.role.join(" ")}</p>}
        {errors._form && (
          <p role="alert" className="text-sm text-red-700">
            {errors._form.join(" ")}
          </p>
        )}
      </form>
    </Modal>
  );
}

const ROLE_HELP: Record<ConsoleRole, string> = {
  owner: "Everything, including owners and audit retention.",
  admin: "Everything but owners and audit retention.",
  environment_admin: "Users, groups, access and sign-in of the chosen environments; reads the rest.",
  reviewer: "Reads everything, changes nothing; decides the access review items assigned to them.",
};
