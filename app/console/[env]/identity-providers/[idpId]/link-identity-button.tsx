"use client";

import { Button } from "@/components/ui/button";
import { useAction } from "@/components/use-action";
import { linkIdentityAction } from "../actions";

/** The fix a refused sign-in's trace offers: link the asserted identity to the user it named. */
export function LinkIdentityButton({ traceId, email }: { traceId: string; email: string }) {
  const { pending, run } = useAction();
  return (
    <Button
      type="button"
      variant="secondary"
      disabled={pending}
      onClick={() => run(() => linkIdentityAction(traceId), { success: `Linked: the next sign-in with this identity signs in as ${email}.` })}
    >
      {pending ? "Linking…" : `Link this identity to ${email}`}
    </Button>
  );
}
