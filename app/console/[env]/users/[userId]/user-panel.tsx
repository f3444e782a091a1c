"use client";

import { useCallback, useState } from "react";
import { Badge, Card } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { DangerAction, useConfirm } from "@/components/ui/modal";
import { MultiPicker, type GroupOption } from "@/components/console/search-picker";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import type { ActionResult } from "@/lib/actions";
import {
  addUserToGroupsAction,
  deleteUserAction,
  grantEnvironmentAction,
  reactivateUserAction,
  removeMembersAction,
  revokeEnvironmentAction,
  searchGroupsAction,
  suspendUserAction,
  updateUserAction,
} from "../actions";

type Access = { environmentId: string; key: string; name: string; granted: boolean; source: string | null };
type Membership = { environmentId: string; groupId: string; name: string; source: string };

export function UserPanel({
  user,
  access,
  groups,
  canWrite,
  writableEnvironments,
}: {
  user: { id: string; name: string; email: string; status: string; version: number; source: string };
  access: Access[];
  groups: Membership[];
  canWrite: boolean;
  writableEnvironments: string[];
}) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  const [confirmDialog, ask] = useConfirm();

  // Every change goes through a server action; its result is shown, then the page data is re-read.
  const act = (action: () => Promise<ActionResult<unknown>>, success: string) => run(action, { success });

  return (
    <div className="grid gap-6 xl:grid-cols-2">
      {confirmDialog}
      <Card>
        <h2 className="text-base font-semibold">Profile</h2>
        <form
          className="mt-3 flex flex-col gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const data = new FormData(e.currentTarget);
            run(() => updateUserAction(user.id, { name: data.get("name"), email: data.get("email"), expectedVersion: user.version }), {
              error: "inline",
              fieldErrors: setErrors,
              success: "Saved.",
            });
          }}
        >
          <Field label="Full name" name="name" defaultValue={user.name} errors={errors.name} disabled={!canWrite} />
          <Field label="Email" name="email" type="email" defaultValue={user.email} errors={errors.email} disabled={!canWrite} />
          {errors._form && (
            <p role="alert" className="text-sm text-red-700">
              {errors._form.join(" ")}
            </p>
          )}
          <p className="text-xs text-slate-500">Source: {user.source}</p>
          {canWrite && (
            <div className="flex flex-wrap gap-2">
              <Button type="submit" disabled={pending}>
                Save
              </Button>
              {user.status === "suspended" ? (
                <Button type="button" variant="secondary" disabled={pending} onClick={() => act(() => reactivateUserAction(user.id), "Reactivated.")}>
                  Reactivate
                </Button>
              ) : (
                <Button
                  type="button"
                  variant="secondary"
                  disabled={pending}
                  onClick={() =>
                    ask({
                      title: `Suspend ${user.email}?`,
                      description: "They cannot sign in to any environment until reactivated, and every session of theirs ends now.",
                      confirmLabel: "Suspend",
                      onConfirm: () => act(() => suspendUserAction(user.id), "Suspended."),
                    })
                  }
                >
                  Suspend
                </Button>
              )}
            </div>
          )}
        </form>
        {canWrite && (
          <DangerAction
            warning="Delete this user with all their access and memberships. This cannot be undone."
            buttonLabel="Delete user…"
            disabled={pending}
            title={`Delete ${user.email}?`}
            description="The user, their access to every environment, their memberships and sessions are deleted for good. The audit trail keeps what happened."
            confirmLabel="Delete user"
            typeToConfirm={user.email}
            pending={pending}
            onConfirm={(close) => run(() => deleteUserAction(user.id), { success: "Deleted.", redirectTo: "./", onSettled: close })}
          />
        )}
      </Card>

      <Card>
        <h2 className="text-base font-semibold">Environments and groups</h2>
        <ul className="mt-3 flex flex-col gap-4">
          {access.map((a) => {
            const editable = writableEnvironments.includes(a.environmentId);
            const inEnv = groups.filter((g) => g.environmentId === a.environmentId);
            return (
              <li key={a.environmentId} className="rounded-md border border-slate-200 p-3">
                <label className="flex items-center gap-2 text-sm font-medium">
                  <input
                    type="checkbox"
                    checked={a.granted}
                    disabled={!editable || pending}
                    onChange={() =>
                      a.granted
                        ? ask({
                            title: `Revoke ${a.name} for ${user.email}?`,
                            description: `${user.email} leaves every group in ${a.name}, and their ${a.name} sessions end now.`,
                            confirmLabel: `Revoke ${a.name}`,
                            onConfirm: () => act(() => revokeEnvironmentAction({ userId: user.id, environmentId: a.environmentId }), `${a.name} revoked.`),
                          })
                        : act(() => grantEnvironmentAction({ userId: user.id, environmentId: a.environmentId }), `${a.name} granted.`)
                    }
                  />
                  May enter {a.name}
                  {a.source && <span className="text-xs font-normal text-slate-500">({a.source})</span>}
                </label>
                {a.granted && (
                  <div className="mt-2 flex flex-col gap-2 pl-6">
                    <div className="flex flex-wrap gap-2" aria-label={`Groups in ${a.name}`}>
                      {inEnv.map((g) => (
                        <span key={g.groupId} className="inline-flex items-center gap-1">
                          <Badge tone={g.source === "system" ? "slate" : "blue"}>
                            {g.name}
                            {g.source !== "manual" && g.source !== "system" ? ` · ${g.source}` : ""}
                          </Badge>
                          {editable && g.source !== "system" && (
                            <button
                              type="button"
                              aria-label={`Remove from ${g.name} in ${a.name}`}
                              className="text-xs text-red-700 hover:underline"
                              onClick={() => act(() => removeMembersAction({ groupId: g.groupId, userIds: [user.id] }), `Removed from ${g.name} in ${a.name}.`)}
                            >
                              remove
                            </button>
                          )}
                        </span>
                      ))}
                    </div>
                    {editable && (
                      <AddToGroup
                        environmentId={a.environmentId}
                        environmentName={a.name}
                        onAdd={(picked) =>
                          act(
                            () => addUserToGroupsAction({ userId: user.id, groupIds: picked.map((g) => g.id) }),
                            `Added to ${picked.map((g) => g.name).join(", ")}.`,
                          )
                        }
                      />
                    )}
                  </div>
                )}
              </li>
            );
          })}
        </ul>
      </Card>
    </div>
  );
}

/** Pick several groups of one environment (searched on the server as you type), then add them at once. */
function AddToGroup({ environmentId, environmentName, onAdd }: { environmentId: string; environmentName: string; onAdd: (groups: GroupOption[]) => void }) {
  const [picked, setPicked] = useState<GroupOption[]>([]);
  const search = useCallback(async (q: string) => {
    const result = await searchGroupsAction({ environmentId, q });
    return result.ok ? result.data : [];
  }, [environmentId]);
  return (
    <div className="flex flex-wrap items-end gap-2">
      <MultiPicker label={`Add to groups in ${environmentName}`} search={search} value={picked} onChange={setPicked} />
      <Button
        type="button"
        variant="secondary"
        disabled={picked.length === 0}
        onClick={() => {
          onAdd(picked);
          setPicked([]);
        }}
      >
        Add {picked.length || ""}
      </Button>
    </div>
  );
}
