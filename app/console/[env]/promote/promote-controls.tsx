"use client";

import { useSyncExternalStore } from "react";
import { useRouter } from "next/navigation";
import { Button } from "@/components/ui/button";
import { useAction } from "@/components/use-action";
import { promoteAction } from "./actions";

/** Choose where to promote from (a link: the plan is computed by the page). */
export function SourcePicker({ envKey, from, sources }: { envKey: string; from: string | null; sources: { key: string; name: string }[] }) {
  const router = useRouter();
  return (
    <label className="flex items-center gap-2 text-sm text-slate-700">
      Promote from
      <select
        className="rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm"
        value={from ?? ""}
        onChange={(e) => router.push(`/console/${envKey}/promote?from=${encodeURIComponent(e.target.value)}`)}
      >
        {from === null && <option value="">Choose…</option>}
        {sources.map((s) => (
          <option key={s.key} value={s.key}>
            {s.name}
          </option>
        ))}
      </select>
    </label>
  );
}

/** Apply exactly the plan on the screen: refused if either environment changed since it was shown. */
export function ApplyPlan({ from, to, toName, planHash, changes }: { from: string; to: string; toName: string; planHash: string; changes: number }) {
  const { pending, run } = useAction();
  // Enabled once hydrated: a click before that would do nothing.
  const hydrated = useSyncExternalStore(
    () => () => {},
    () => true,
    () => false,
  );
  return (
    <Button
      type="button"
      disabled={pending || !hydrated}
      onClick={() =>
        run(() => promoteAction({ from, to, planHash }), {
          success: (d) => `Promoted into ${toName}: ${d.changes} change${d.changes === 1 ? "" : "s"} applied.`,
          refresh: "always",
        })
      }
    >
      {pending ? "Applying…" : `Apply ${changes} change${changes === 1 ? "" : "s"} to ${toName}`}
    </Button>
  );
}
