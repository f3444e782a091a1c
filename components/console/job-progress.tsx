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
  problems: { seq: number; key: string | null; outcome: string; detail: string | null }[];
  sample: { seq: number; key: string | null; outcome: string; detail: string | null }[];
};

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
      if (s && (s.status === "queued" || s.status === "running")) setTimeout(tick, 800);
    };
    void tick();
    return () => {
      stopped = true;
    };
  }, [jobId, fetchStatus]);
  return jobId && status?.id === jobId ? status : null;
}

export function JobProgress({ status, label }: { status: JobStatus; label: string }) {
  const bytes = Number(status.summary?.bytes ?? 0);
  const done = status.status === "succeeded" || status.status === "failed";
  const pct = done ? 100 : status.total ? Math.min(99, Math.round((bytes / status.total) * 100)) : 0;
  return (
    <div className="flex flex-col gap-1">
      <div className="flex justify-between text-sm">
        <span>
          {label}: {status.status}
        </span>
        <span>{pct}%</span>
      </div>
      <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct} className="h-2 w-full rounded bg-slate-200">
        <div className={`h-2 rounded ${status.status === "failed" ? "bg-red-600" : "bg-brand-600"}`} style={{ width: `${pct}%` }} />
      </div>
      {status.error && (
        <p role="alert" className="text-sm text-red-800">
          {status.error}
        </p>
      )}
    </div>
  );
}
