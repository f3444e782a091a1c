"use client";

import { Button } from "@/components/ui/button";
import { useAction } from "@/components/use-action";
import { resetUserSecondFactorsAction, sendInvitationAction, signOutEverywhereAction } from "../actions";

/** Password invitation for this environment and "sign out everywhere", from the user panel. */
export function AccountActions({ userId, environment, canInvite, secondFactors }: { userId: string; environment: { id: string; name: string }; canInvite: boolean; secondFactors: number }) {
  const { pending, run } = useAction();
  return (
    <div className="mt-3 flex flex-wrap gap-2">
      {canInvite && (
        <Button
          variant="secondary"
          disabled={pending}
          onClick={() =>
            run(() => sendInvitationAction({ userId, environmentId: environment.id }), {
              success: (d) => `Invitation sent; the link works once, until ${d.expiresAt.slice(0, 10)}.`,
              refresh: "always",
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
          run(() => signOutEverywhereAction(userId), {
            success: (d) => `Signed out everywhere (${d.ended} session${d.ended === 1 ? "" : "s"} ended).`,
            refresh: "always",
          })
        }
      >
        Sign out everywhere
      </Button>
      {secondFactors > 0 && (
        <Button
          variant="secondary"
          disabled={pending}
          onClick={() =>
            run(() => resetUserSecondFactorsAction(userId), {
              success: (d) => `Second factors reset (${d.removed} removed); the user is signed out everywhere.`,
              refresh: "always",
            })
          }
        >
          Reset second factors
        </Button>
      )}
    </div>
  );
}
