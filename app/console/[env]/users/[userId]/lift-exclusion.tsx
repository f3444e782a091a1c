"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import { liftExclusionAction } from "../actions";

/** "Lift" on one exclusion: after it, the directory's or IdP's next sync may add it back. */
export function LiftExclusion({ exclusionId, label }: { exclusionId: string; label: string }) {
  const [open, setOpen] = useState(false);
  const { pending, run } = useAction();
  return (
    <>
      <Button variant="secondary" className="py-1" onClick={() => setOpen(true)} aria-label={`Lift exclusion from ${label}`}>
        Lift
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Lift this exclusion?"
        description={`The next sync of the directory or identity provider may add ${label} back. The review's decision stays in its report.`}
        confirmLabel="Lift exclusion"
        pending={pending}
        onConfirm={() =>
          run(() => liftExclusionAction(exclusionId), {
            onSuccess: () => setOpen(false),
            success: "Exclusion lifted.",
            refresh: "always",
          })
        }
      />
    </>
  );
}
