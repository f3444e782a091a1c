"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { ConfirmDialog, DangerZone } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { ChainReport } from "@/lib/audit/chain";
import type { FieldErrors } from "@/lib/errors";
import { pruneAuditTrailAction, verifyAuditTrailAction } from "./actions";

/** "Verify" walks the hash chain; owners may prune by age (the only way rows leave the trail). */
export function ChainControls({ canPrune }: { canPrune: boolean }) {
  const [report, setReport] = useState<ChainReport | null>(null);
  const [confirm, setConfirm] = useState<number | null>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const { pending, run } = useAction();
  return (
    <div className="flex flex-col gap-3">
      <div className="flex flex-wrap items-end gap-3">
        <Button
          type="button"
          variant="secondary"
          disabled={pending}
          onClick={() => run(() => verifyAuditTrailAction(), { onSuccess: setReport, refresh: false })}
        >
          Verify the chain
        </Button>
      </div>
      {report && (
        <div role="status" data-testid="chain-report" className={`rounded-md border p-3 text-sm ${report.ok ? "border-green-300 bg-green-50" : "border-red-300 bg-red-50"}`}>
          {report.ok
            ? `The chain is intact: ${report.checked.toLocaleString("en")} events verified${report.anchor ? `, starting after a prune of ${report.anchor.prunedRows.toLocaleString("en")} events before ${report.anchor.cutoff.slice(0, 10)}` : " from the first event"}.`
            : `Broken at position ${report.broken!.seq}${report.broken!.id ? ` (event ${report.broken!.id})` : ""}: ${report.broken!.problem}.`}
          {report.ok && report.head && (
            <p className="mt-1 text-xs text-slate-600">
              Last event: position {report.head.seq}, hash <code className="break-all font-mono">{report.head.hash}</code>. To check a copy away from the database, export with Environment “All environments” and run{" "}
              <code className="break-all font-mono">
                python3 scripts/verify-audit-csv.py FILE --head {report.head.seq}:{report.head.hash}
              </code>
              .
            </p>
          )}
        </div>
      )}
      {canPrune && (
        <DangerZone title="Retention (owners)">
          <form
            className="flex flex-wrap items-end gap-2"
            onSubmit={(e) => {
              e.preventDefault();
              setConfirm(Number(new FormData(e.currentTarget).get("olderThanDays")));
            }}
          >
            <Field label="Delete events older than (days)" name="olderThanDays" type="number" min={30} defaultValue={365} errors={errors.olderThanDays} />
            <Button type="submit" variant="secondary" className="border-red-300 text-red-700 hover:bg-red-50">
              Prune…
            </Button>
          </form>
        </DangerZone>
      )}
      <ConfirmDialog
        typeToConfirm={`prune ${confirm}`}
        open={confirm !== null}
        onOpenChange={(open) => !open && setConfirm(null)}
        title="Prune the audit trail?"
        description={`Events older than ${confirm} days are deleted for good, from the start of the chain. The prune itself is recorded, and the chain stays verifiable from its new start.`}
        confirmLabel="Delete"
        pending={pending}
        onConfirm={() =>
          run(() => pruneAuditTrailAction({ olderThanDays: confirm }), {
            onSettled: () => setConfirm(null),
            fieldErrors: setErrors,
            success: (d) => `Pruned ${d.pruned} events.`,
          })
        }
      />
    </div>
  );
}
