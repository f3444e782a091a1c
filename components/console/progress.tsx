/** Decided out of total, as a labelled progress bar. */
export function Progress({ decided, total, label }: { decided: number; total: number; label: string }) {
  const pct = total ? Math.round((decided / total) * 100) : 100;
  return (
    <div className="flex items-center gap-2">
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={total} aria-valuenow={decided} className="h-2 w-32 overflow-hidden rounded bg-slate-200">
        <div className="h-full bg-brand-600" style={{ width: `${pct}%` }} />
      </div>
      <span className="text-xs text-slate-600">
        {decided} of {total}
      </span>
    </div>
  );
}
