"use client";

import { useEffect, useState } from "react";

export type JobStatus = {
  id: string;
  kind: string;
  status: string;
  progress: number;
  total: number | null;
  summary: Record<string, unknown> | null;
  error: string | null;
  /** A stop asked for ("Cancelled by …"): the job stops before its next batch. */
  cancelRequested: string | null;
  problems: { seq: number; key: string | null; outcome: string; detail: string | null }[];
  sample: { seq: number; key: string | null; outcome: string; detail: string | null }[];
};

/** Whether a job has yet to end (queued, or running: a stop asked for included). */
export const jobActive = (job: Pick<JobStatus, "status">) => job.status === "queued" || job.status === "running";

/** Polls a job once a second until it ends; renders an accessible progress bar. */
export function useJob(jobId: string | null, fetchStatus: (id: string) => Promise<JobStatus | null>) {
  const [status, setStatus] = useState<JobStatus | null>(null);
  useEffect(() => {
    if (!jobId) return;
    let stopped = false;
    const tick = async () => {
      const s = await fetchStatus(jobId);
      if (stopped) return;
      setStatus(s);
      if (s && jobActive(s)) setTimeout(tick, 800);
    };
    void tick();
    return () => {
      stopped = true;
    };
  }, [jobId, fetchStatus]);
  return jobId && status?.id === jobId ? status : null;
}

/** A job's progress; with `onCancel`, a Stop button while it is queued or running (until a stop is asked for). */
export function JobProgress({ status, label, onCancel, stopping }: { status: JobStatus; label: string; onCancel?: () => void; stopping?: boolean }) {
  const bytes = Number(status.summary?.bytes ?? 0);
  const done = status.status === "succeeded" || status.status === "failed";
  const pct = done ? 100 : status.total ? Math.min(99, Math.round((bytes / status.total) * 100)) : 0;
  const active = jobActive(status);
  return (
    <div className="flex flex-col gap-1">
      <div className="flex items-center justify-between gap-2 text-sm">
        <span>
          {label}: {status.status}
        </span>
        <span className="ml-auto">{pct}%</span>
        {onCancel && active && !status.cancelRequested && (
          <button type="button" disabled={stopping} className="rounded border border-slate-300 px-2 py-0.5 text-xs hover:bg-slate-50 disabled:opacity-50" onClick={onCancel}>
            Stop
          </button>
        )}
      </div>
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} className="h-2 w-full rounded bg-slate-200">
        <div className={`h-2 rounded ${status.status === "failed" ? "bg-red-600" : status.status === "cancelled" ? "bg-slate-500" : "bg-brand-600"}`} style={{ width: `${pct}%` }} />
      </div>
      {active && status.cancelRequested && (
        <p role="status" className="text-sm text-slate-700">
          Stopping: {status.cancelRequested} It stops before its next batch.
        </p>
      )}
      {status.error && (
        <p role={status.status === "cancelled" ? "status" : "alert"} className={`text-sm ${status.status === "cancelled" ? "text-slate-700" : "text-red-800"}`}>
          {status.status === "cancelled" ? `${status.error} ${cancelledNote(status)}` : status.error}
        </p>
      )}
    </div>
  );
}

/** What a stopped job left: a dry run nothing; an apply what its batches did before it stopped. */
function cancelledNote(status: JobStatus): string {
  if (status.kind === "import_dry_run") return "A dry run changes nothing.";
  if (status.progress === 0) return "Nothing had run.";
  return "What ran before it stopped stays done; the report says where it stopped.";
}
