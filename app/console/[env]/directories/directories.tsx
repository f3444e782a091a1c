"use client";

import Link from "next/link";
import { useState } from "react";
import { Badge } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { useConfirm } from "@/components/ui/modal";
import { CopyButton } from "@/components/ui/copy-button";
import { ShownOnce } from "@/components/ui/shown-once";
import { SimpleTable } from "@/components/ui/simple-table";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import type { DirectoryHealth } from "@/lib/directories";
import { createDirectoryAction, rotateDirectoryTokenAction, setDirectoryStatusAction } from "./actions";
import { counted } from "@/lib/domain/words";

type Row = { id: string; name: string; baseUrl: string; tokenHint: string; status: string; identityProvider: string; lastRequestAt: string; health: DirectoryHealth };

export function Directories({
  environmentId,
  envKey,
  rows,
  identityProviders,
  canWrite,
}: {
  environmentId: string;
  envKey: string;
  rows: Row[];
  identityProviders: { id: string; name: string }[];
  canWrite: boolean;
}) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [secret, setSecret] = useState<{ baseUrl: string; token: string } | null>(null);
  const { pending, run } = useAction();
  const [confirmDialog, ask] = useConfirm();
  return (
    <div className="flex flex-col gap-4">
      {confirmDialog}
      {secret && (
        <ShownOnce
          intro="Enter these in the IdP's provisioning settings."
          values={[
            { label: "Tenant / base URL", value: secret.baseUrl, testId: "scim-base-url" },
            { label: "Secret token (bearer)", value: secret.token, testId: "scim-token" },
          ]}
        />
      )}
      <SimpleTable
        caption="Directories"
        rows={rows}
        rowKey={(r) => r.id}
        empty="No directory yet."
        columns={[
          {
            header: "Name",
            cell: (r) => (
              <Link className="text-brand-700 hover:underline" href={`/console/${envKey}/directories/${r.id}`}>
                {r.name}
              </Link>
            ),
          },
          {
            header: "Base URL",
            cell: (r) => (
              <>
                <code className="break-all text-xs">{r.baseUrl}</code>
                <CopyButton value={r.baseUrl} label={`the SCIM base URL of ${r.name}`} />
              </>
            ),
          },
          { header: "Token", cell: (r) => <code className="text-xs">{r.tokenHint}</code> },
          { header: "IdP", cell: (r) => r.identityProvider },
          { header: "Last request", cell: (r) => r.lastRequestAt },
          { header: "Provisioned", cell: (r) => `${counted(r.health.users, "user")}, ${counted(r.health.groups, "group")}` },
          {
            header: "Last 24 h",
            cell: (r) => (
              <span title={r.health.lastError ?? undefined}>
                {r.health.requests24h} requests
                {r.health.errors24h > 0 && <Badge tone="red">{r.health.errors24h} errors</Badge>}
              </span>
            ),
          },
          { header: "Status", cell: (r) => <Badge tone={r.status === "active" ? "green" : "amber"}>{r.status}</Badge> },
          {
            header: "Actions",
            hideHeader: true,
            cell: (r) =>
              canWrite && (
                <div className="flex gap-2">
                  <Button
                    variant="secondary"
                    disabled={pending}
                    onClick={() =>
                      ask({
                        title: `Rotate ${r.name}'s token?`,
                        description: "The current token stops working at once: the directory's provisioning fails until it is given the new one.",
                        confirmLabel: "Rotate token",
                        onConfirm: () =>
                          run(() => rotateDirectoryTokenAction(r.id), {
                            onSuccess: (d) => setSecret({ baseUrl: d.baseUrl, token: d.token }),
                            refresh: "always",
                          }),
                      })
                    }
                  >
                    Rotate token
                  </Button>
                  <Button
                    variant="secondary"
                    disabled={pending}
                    onClick={() => run(() => setDirectoryStatusAction(r.id, r.status === "active" ? "disabled" : "active"), { refresh: "always" })}
                  >
                    {r.status === "active" ? "Disable" : "Enable"}
                  </Button>
                </div>
              ),
          },
        ]}
      />
      {canWrite && (
        <form
          className="flex flex-wrap items-end gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const data = new FormData(form);
            run(() => createDirectoryAction({ environmentId, name: data.get("name"), identityProviderId: (data.get("identityProviderId") as string) || null, patchAnswer: data.get("patchAnswer") }), {
              error: "inline",
              fieldErrors: setErrors,
              onSuccess: (d) => {
                setSecret({ baseUrl: d.baseUrl, token: d.token });
                form.reset();
              },
            });
          }}
        >
          <Field label="Directory name" name="name" errors={errors.name ?? errors._form} />
          <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
            Fed by (for the record)
            <select name="identityProviderId" className="rounded-md border border-slate-300 px-2 py-2 text-sm">
              <option value="">—</option>
              {identityProviders.map((i) => (
                <option key={i.id} value={i.id}>
                  {i.name}
                </option>
              ))}
            </select>
          </label>
          <PatchAnswerSelect />
          <Button type="submit" disabled={pending}>
            Create directory
          </Button>
        </form>
      )}
    </div>
  );
}

/** What a SCIM PATCH answers; Microsoft Entra ID's provisioning expects 204, other clients the resource. */
export function PatchAnswerSelect({ defaultValue = "resource", onChange }: { defaultValue?: string; onChange?: (value: string) => void }) {
  return (
    <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
      PATCH answers
      <select
        name="patchAnswer"
        defaultValue={defaultValue}
        onChange={onChange ? (e) => onChange(e.currentTarget.value) : undefined}
        className="rounded-md border border-slate-300 px-2 py-2 text-sm"
      >
        <option value="resource">The resource, 200 (Okta, OneLogin, most clients)</option>
        <option value="no_content">No content, 204 (Microsoft Entra ID)</option>
      </select>
    </label>
  );
}
