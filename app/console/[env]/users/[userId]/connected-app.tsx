"use client";

import { useState } from "react";
import { Button } from "@/components/ui/button";
import { ConfirmDialog } from "@/components/ui/modal";
import { useAction } from "@/components/use-action";
import { revokeConnectedAppAction } from "../actions";

/** "Disconnect" on one of the user's connected apps: its access and refresh tokens stop at once. */
export function DisconnectApp({ consentId, label }: { consentId: string; label: string }) {
  const [open, setOpen] = useState(false);
  const { pending, run } = useAction();
  return (
    <>
      <Button variant="secondary" className="py-1" onClick={() => setOpen(true)} aria-label={`Disconnect ${label}`}>
        Disconnect
      </Button>
      <ConfirmDialog
        open={open}
        onOpenChange={setOpen}
        title="Disconnect this app?"
        description={`${label} can no longer use the server as this user: its tokens stop at once. The user may connect it again.`}
        confirmLabel="Disconnect"
        pending={pending}
        onConfirm={() => run(() => revokeConnectedAppAction(consentId), { onSuccess: () => setOpen(false), success: "App disconnected.", refresh: "always" })}
      />
    </>
  );
}
