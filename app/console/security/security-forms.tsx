"use client";

import { Button } from "@/components/ui/button";
import { useAction } from "@/components/use-action";
import { setRequireSecondFactorAction } from "./actions";

export function RequireSecondFactor({ required, ownHasFactor }: { required: boolean; ownHasFactor: boolean }) {
  const { pending, run } = useAction();
  return (
    <section aria-labelledby="policy-title" className="flex flex-col gap-3">
      <h2 id="policy-title" className="text-base font-semibold">
        Console policy
      </h2>
      <p className="text-sm text-slate-700">
        {required
          ? "Every console member must have a second factor: members without one are sent to add one at their next sign-in."
          : "Members may sign in with a password alone. Requiring a second factor sends members without one to add one at their next sign-in."}
      </p>
      <Button
        className="self-start"
        variant={required ? "secondary" : "primary"}
        disabled={pending || (!required && !ownHasFactor)}
        onClick={() => run(() => setRequireSecondFactorAction({ requireSecondFactor: !required }), { success: required ? "Second factors are optional again." : "Second factors are now required." })}
      >
        {required ? "Stop requiring a second factor" : "Require a second factor for every member"}
      </Button>
      {!required && !ownHasFactor && <p className="text-sm text-slate-600">Add a second factor to your own account first.</p>}
    </section>
  );
}
