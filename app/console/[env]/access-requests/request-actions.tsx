"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Field } from "@/components/ui/field";
import { Modal } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import type { FieldErrors } from "@/lib/errors";
import { decideAccessRequestAction } from "./actions";

/** Approve at once, or deny with a reason (required: the user sees it). */
export function RequestActions({ requestId, label }: { requestId: string; label: string }) {
  const { pending, run } = useAction();
  const [denying, setDenying] = useState(false);
  const [errors, setErrors] = useState<FieldErrors>({});
  return (
    <div className="flex justify-end gap-2">
      <Button type="button" disabled={pending} aria-label={`Approve ${label}`} onClick={() => run(() => decideAccessRequestAction({ requestId, decision: "approve" }), { success: `Approved: ${label}.` })}>
        Approve
      </Button>
      <Button type="button" variant="secondary" disabled={pending} aria-label={`Deny ${label}`} onClick={() => setDenying(true)}>
        Deny
      </Button>
      <Modal open={denying} onOpenChange={setDenying} title="Deny this request" description={label}>
        <form
          className="flex flex-col gap-3"
          onSubmit={(e) => {
            e.preventDefault();
            const comment = new FormData(e.currentTarget).get("comment");
            run(() => decideAccessRequestAction({ requestId, decision: "deny", comment }), {
              fieldErrors: setErrors,
              onSuccess: () => setDenying(false),
              success: `Denied: ${label}.`,
            });
          }}
        >
          <Field label="Why (the user sees this)" name="comment" errors={errors.comment} />
          <div className="flex justify-end gap-2">
            <Button type="button" variant="secondary" onClick={() => setDenying(false)}>
              Cancel
            </Button>
            <Button type="submit" disabled={pending}>
              Deny request
            </Button>
          </div>
        </form>
      </Modal>
    </div>
  );
}
