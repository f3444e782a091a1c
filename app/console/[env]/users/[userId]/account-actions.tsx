"use client";

import { useRouter } from "next/navigation";
import { useTransition } from "react";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { sendInvitationAction, signOutEverywhereAction } from "../actions";

/** Password invitation for this environment and "sign out everywhere", from the user panel. */
export function AccountActions({ userId, environment, canInvite }: { userId: string; environment: { id: string; name: string }; canInvite: boolean }) {
  const [pending, start] = useTransition();
  const router = useRouter();
  return (
    <div className="mt-3 flex flex-wrap gap-2">
      {canInvite && (
        <Button
          variant="secondary"
          disabled={pending}
          onClick={() =>
            start(async () => {
              const r = await sendInvitationAction({ userId, environmentId: environment.id });
              if (r.ok) toast.success(`Invitation sent; the link works once, until ${r.data.expiresAt.slice(0, 10)}.`);
              else toast.error(r.error);
              router.refresh();
            })
          }
        >
          Send password invitation for {environment.name}
        </Button>
      )}
      <Button
        variant="secondary"
        disabled={pending}
        onClick={() =>
          start(async () => {
            const r = await signOutEverywhereAction(userId);
            if (r.ok) toast.success(`Signed out everywhere (${r.data.ended} session${r.data.ended === 1 ? "" : "s"} ended).`);
            else toast.error(r.error);
            router.refresh();
          })
        }
      >
        Sign out everywhere
      </Button>
    </div>
  );
}
