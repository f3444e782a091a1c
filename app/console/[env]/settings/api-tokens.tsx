"use client";

import { useState } from "react";
import { Badge } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/modal";
import { ShownOnce } from "@/components/ui/shown-once";
import { SimpleTable } from "@/components/ui/simple-table";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { createApiTokenAction, createReviewerTokenAction, revokeApiTokenAction, revokeOwnTokenAction } from "./actions";

type TokenRow = { id: string; name: string; hint: string; scope: string; createdBy: string | null; environments: string; createdAt: string; lastUsedAt: string; state: string };

/**
 * API tokens. Owners and admins make any scope; every other member may make reviewer tokens for
 * themselves (they read, and decide the member's own review items) and revoke their own.
 */
export function ApiTokens({ tokens, environments, canWrite, memberId }: { tokens: TokenRow[]; environments: { id: string; name: string }[]; canWrite: boolean; memberId: string | null }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [secret, setSecret] = useState<string | null>(null);
  const { pending, run } = useAction();
  const [confirmDialog, ask] = useConfirm();

  return (
    <div className="mt-4 flex flex-col gap-4">
      {confirmDialog}
      {secret && <ShownOnce intro="The new API token." values={[{ value: secret, testId: "new-token" }]} />}
      {memberId && (
        <form
          className="flex flex-wrap items-end gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            const input = { name: data.get("name"), scope: data.get("scope"), environmentIds: data.getAll("environmentIds") };
            run(() => (canWrite ? createApiTokenAction(input) : createReviewerTokenAction(input)), {
              error: "inline",
              fieldErrors: setErrors,
              onSuccess: (d) => {
                setSecret(d.token);
                form.reset();
              },
              refresh: false,
            });
          }}
        >
          <Field label="Token name" name="name" errors={errors.name} />
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Scope
            <select name="scope" className="rounded-md border border-slate-300 px-2 py-2 text-sm" defaultValue={canWrite ? "read" : "reviewer"}>
              {canWrite && <option value="read">Read</option>}
              {canWrite && <option value="write">Read and write</option>}
              {canWrite && <option value="authz">Decisions only (components)</option>}
              <option value="reviewer">Reviewer: read, and decide my review items</option>
            </select>
          </label>
          <fieldset className="flex flex-col gap-1">
            <legend className="text-sm font-medium text-slate-700">Environments (none: all)</legend>
            <div className="flex gap-3">
              {environments.map((env) => (
                <label key={env.id} className="flex items-center gap-1 text-sm">
                  <input type="checkbox" name="environmentIds" value={env.id} />
                  {env.name}
                </label>
              ))}
            </div>
          </fieldset>
          <Button type="submit" disabled={pending}>
            Create token
          </Button>
          {errors._form && <p className="w-full text-sm text-red-700">{errors._form.join(" ")}</p>}
        </form>
      )}
      <SimpleTable
        caption="API tokens"
        rows={tokens}
        rowKey={(t) => t.id}
        empty="No API token yet."
        columns={[
          { header: "Name", cell: (t) => t.name, className: "px-3 py-2 font-medium" },
          { header: "Token", cell: (t) => `${t.hint}…`, className: "px-3 py-2 font-mono text-xs" },
          { header: "Scope", cell: (t) => t.scope },
          { header: "Environments", cell: (t) => t.environments },
          { header: "Created", cell: (t) => t.createdAt },
          { header: "Last used", cell: (t) => t.lastUsedAt },
          { header: "State", cell: (t) => <Badge tone={t.state === "active" ? "green" : "slate"}>{t.state}</Badge> },
          {
            header: "Actions",
            hideHeader: true,
            cell: (t) =>
              (canWrite || (t.scope === "reviewer" && t.createdBy === memberId)) &&
              t.state === "active" && (
                <Button
                  variant="ghost"
                  className="text-red-700"
                  aria-label={`Revoke ${t.name}`}
                  onClick={() =>
                    ask({
                      title: `Revoke “${t.name}”?`,
                      description: "Clients using it stop working at once. A revoked token cannot be used again.",
                      confirmLabel: "Revoke token",
                      onConfirm: () => run(() => (canWrite ? revokeApiTokenAction(t.id) : revokeOwnTokenAction(t.id)), { success: "Revoked.", refresh: false }),
                    })
                  }
                >
                  Revoke
                </Button>
              ),
          },
        ]}
      />
    </div>
  );
}
