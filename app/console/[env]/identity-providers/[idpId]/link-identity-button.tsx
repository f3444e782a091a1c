"use client";

import { useTransition } from "react";
import { useRouter } from "next/navigation";
import { toast } from "sonner";
import { Button } from "@/components/ui/button";
import { linkIdentityAction } from "../actions";

/** The fix a refused sign-in's trace offers: link the asserted identity to the user it named. */
export function LinkIdentityButton({ traceId, email }: { traceId: string; email: string }) {
  const [pending, start] = useTransition();
  const router = useRouter();
  return (
    <Button
      type="button"
      variant="secondary"
      disabled={pending}
      onClick={() =>
        start(async () => {
          const result = await linkIdentityAction(traceId);
          if (!result.ok) return void toast.error(result.error);
          toast.success(`Linked: the next sign-in with this identity signs in as ${email}.`);
          router.refresh();
        })
      }
    >
      {pending ? "Linking…" : `Link this identity to ${email}`}
    </Button>
  );
}
