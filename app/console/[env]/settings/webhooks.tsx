"use client";

import { useState } from "react";
import { Badge } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { ConfirmDialog } from "@/components/ui/modal";
import { ShownOnce } from "@/components/ui/shown-once";
import { SimpleTable } from "@/components/ui/simple-table";
import { useAction } from "@/components/use-action";
import { fieldErrorsUnder, type FieldErrors } from "@/lib/errors";
import { createWebhookAction, deleteWebhookAction, retryDeliveryAction, setWebhookEnabledAction } from "./actions";

type WebhookRow = { id: string; name: string; url: string; actions: string; enabled: boolean; pending: number; delivered: number; dead: number };
type DeadRow = { id: number; endpoint: string; event: string; attempts: number; lastError: string; createdAt: string };

export function Webhooks({ webhooks, dead, canWrite }: { webhooks: WebhookRow[]; dead: DeadRow[]; canWrite: boolean }) {
  const [errors, setErrors] = useState<FieldErrors>({});
  const [secret, setSecret] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<WebhookRow | null>(null);
  const { pending, run } = useAction();
  return (
    <div className="mt-4 flex flex-col gap-4">
      {secret && <ShownOnce intro="The webhook's signing secret (verify the webhook-signature header with it, as Standard Webhooks describes)." values={[{ value: secret, testId: "webhook-secret" }]} kind="secret" />}
      {canWrite && (
        <form
          aria-label="New webhook"
          className="flex flex-wrap items-end gap-3"
          noValidate
          onSubmit={(e) => {
            e.preventDefault();
            const form = e.currentTarget;
            const d = new FormData(form);
            const actions = String(d.get("actions") ?? "").split(/[\s,]+/).filter(Boolean);
            run(() => createWebhookAction({ name: d.get("name"), url: d.get("url"), actions }), {
              error: "inline",
              fieldErrors: setErrors,
              onSuccess: (data) => {
                setSecret(data.secret);
                form.reset();
              },
            });
          }}
        >
          <Field label="Webhook name" name="name" errors={errors.name} />
          <Field label="URL" name="url" type="url" placeholder="https://siem.example.com/hooks" errors={errors.url} className="min-w-80" />
          <Field label="Actions (prefixes; empty: all)" name="actions" placeholder="user. group.members" errors={fieldErrorsUnder(errors, "actions")} />
          <Button type="submit" disabled={pending}>
            Add webhook
          </Button>
          {errors._form && <p className="w-full text-sm text-red-700">{errors._form.join(" ")}</p>}
        </form>
      )}
      <SimpleTable
        caption="Webhooks"
        rows={webhooks}
        rowKey={(w) => w.id}
        empty="No webhook yet."
        columns={[
          { header: "Name", cell: (w) => w.name, className: "px-3 py-2 font-medium" },
          { header: "URL", cell: (w) => w.url, className: "px-3 py-2 break-all font-mono text-xs" },
          { header: "Actions", cell: (w) => w.actions },
          { header: "Delivered", cell: (w) => w.delivered },
          { header: "Pending", cell: (w) => w.pending },
          { header: "Dead", cell: (w) => (w.dead ? <Badge tone="red">{w.dead}</Badge> : 0) },
          { header: "State", cell: (w) => <Badge tone={w.enabled ? "green" : "slate"}>{w.enabled ? "enabled" : "disabled"}</Badge> },
          {
            header: "Actions",
            hideHeader: true,
            cell: (w) =>
              canWrite && (
                <div className="flex gap-1">
                  <Button variant="ghost" disabled={pending} onClick={() => run(() => setWebhookEnabledAction(w.id, !w.enabled), { success: w.enabled ? "Disabled." : "Enabled." })}>
                    {w.enabled ? "Disable" : "Enable"}
                  </Button>
                  <Button variant="ghost" className="text-red-700" onClick={() => setDeleting(w)}>
                    Delete
                  </Button>
                </div>
              ),
          },
        ]}
      />
      <h3 className="text-sm font-semibold">Dead letters</h3>
      <SimpleTable
        caption="Deliveries that failed every attempt"
        rows={dead}
        rowKey={(d) => String(d.id)}
        empty="No dead delivery."
        columns={[
          { header: "Webhook", cell: (d) => d.endpoint, className: "px-3 py-2 font-medium" },
          { header: "Event", cell: (d) => d.event },
          { header: "Attempts", cell: (d) => d.attempts },
          { header: "Last error", cell: (d) => d.lastError },
          { header: "Queued", cell: (d) => d.createdAt },
          {
            header: "Retry",
            hideHeader: true,
            cell: (d) =>
              canWrite && (
                <Button variant="ghost" disabled={pending} onClick={() => run(() => retryDeliveryAction(d.id), { success: "Queued again." })}>
                  Send again
                </Button>
              ),
          },
        ]}
      />
      <ConfirmDialog
        open={deleting !== null}
        onOpenChange={(open) => !open && setDeleting(null)}
        title="Delete this webhook?"
        description={`“${deleting?.name}” stops receiving events; its pending deliveries are dropped.`}
        confirmLabel="Delete webhook"
        pending={pending}
        onConfirm={() => {
          const w = deleting!;
          setDeleting(null);
          run(() => deleteWebhookAction(w.id), { success: "Deleted." });
        }}
      />
    </div>
  );
}
