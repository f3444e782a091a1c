"use client";

import { useCallback, useState, useTransition } from "react";
import { Card } from "@/components/ui/card";
import { Button } from "@/components/ui/button";
import { SimpleTable } from "@/components/ui/simple-table";
import { JobProgress, jobActive, useJob } from "@/components/console/job-progress";
import { cancelJobAction, jobStatusAction, startImportAction } from "../actions";

type Inspected = { uploadId: string; bytes: number; columns: string[]; unknown: string[]; mapping: { email?: string; name?: string; environments?: string; groups?: Record<string, string> } };

export function ImportWizard({ environment, environmentKeys }: { environment: { id: string; key: string }; environmentKeys: string[] }) {
  const [inspected, setInspected] = useState<Inspected | null>(null);
  const [mapping, setMapping] = useState<Inspected["mapping"]>({});
  const [error, setError] = useState<string | null>(null);
  const [dryRunId, setDryRunId] = useState<string | null>(null);
  const [applyId, setApplyId] = useState<string | null>(null);
  const [pending, start] = useTransition();
  const fetchStatus = useCallback(async (id: string) => {
    const r = await jobStatusAction(id);
    return r.ok ? r.data : null;
  }, []);
  const dryRun = useJob(dryRunId, fetchStatus);
  const applied = useJob(applyId, fetchStatus);

  const upload = (file: File) =>
    start(async () => {
      setError(null);
      setInspected(null);
      setDryRunId(null);
      setApplyId(null);
      const response = await fetch(`/console/${environment.key}/users/import/upload`, {
        method: "POST",
        body: file,
        headers: { "content-type": "text/csv", "x-file-name": encodeURIComponent(file.name) },
      });
      const body = await response.json();
      if (!response.ok) return setError(body.detail ?? "The upload failed.");
      setInspected(body);
      setMapping(body.mapping);
    });

  // Stops a dry run or an import before its next batch; the progress poll then shows it cancelled.
  const stop = (jobId: string) =>
    start(async () => {
      const result = await cancelJobAction(jobId);
      if (!result.ok) setError(result.error);
    });

  const run = (apply: boolean) =>
    start(async () => {
      setError(null);
      const result = await startImportAction({ uploadId: inspected!.uploadId, environmentId: environment.id, mapping: { ...mapping, groups: mapping.groups ?? {} }, apply });
      if (!result.ok) return setError(result.fieldErrors?.["mapping.email"]?.join(" ") ?? result.error);
      if (apply) setApplyId(result.data.jobId);
      else setDryRunId(result.data.jobId);
    });

  const columnSelect = (label: string, value: string | undefined, onChange: (v: string | undefined) => void) => (
    <label className="flex flex-col gap-1 text-sm font-medium text-slate-700">
      {label}
      <select className="rounded-md border border-slate-300 px-2 py-2 text-sm" value={value ?? ""} onChange={(e) => onChange(e.target.value || undefined)}>
        <option value="">— none —</option>
        {inspected!.columns.map((c) => (
          <option key={c} value={c}>
            {c}
          </option>
        ))}
      </select>
    </label>
  );

  const summary = (s: Record<string, unknown> | null) =>
    s ? `${s.rows ?? 0} rows: ${s.create ?? 0} to create, ${s.update ?? 0} to update, ${s.unchanged ?? 0} unchanged, ${s.error ?? 0} with errors` : "";

  return (
    <div className="flex flex-col gap-6">
      <Card>
        <h2 className="text-base font-semibold">1. Choose a CSV file</h2>
        <label className="mt-3 flex flex-col gap-1 text-sm font-medium text-slate-700">
          CSV file (UTF-8)
          <input type="file" accept=".csv,text/csv" disabled={pending} onChange={(e) => e.target.files?.[0] && upload(e.target.files[0])} />
        </label>
        {error && (
          <p role="alert" className="mt-3 rounded-md bg-red-50 p-3 text-sm text-red-800">
            {error}
          </p>
        )}
      </Card>

      {inspected && (
        <Card>
          <h2 className="text-base font-semibold">2. Map the columns</h2>
          <div className="mt-3 flex flex-wrap gap-4">
            {columnSelect("Email (required)", mapping.email, (v) => setMapping({ ...mapping, email: v }))}
            {columnSelect("Name", mapping.name, (v) => setMapping({ ...mapping, name: v }))}
            {columnSelect("Environments", mapping.environments, (v) => setMapping({ ...mapping, environments: v }))}
            {environmentKeys.map((k) =>
              columnSelect(`Groups in ${k.toUpperCase()}`, mapping.groups?.[k], (v) => {
                const groups = { ...(mapping.groups ?? {}) };
                if (v) groups[k] = v;
                else delete groups[k];
                setMapping({ ...mapping, groups });
              }),
            )}
          </div>
          {inspected.unknown.length > 0 && (
            <p className="mt-3 text-sm text-amber-800">Columns not imported: {inspected.unknown.map((c) => `“${c}”`).join(", ")}.</p>
          )}
          <Button className="mt-4" disabled={pending || !mapping.email} onClick={() => run(false)}>
            Dry run
          </Button>
        </Card>
      )}

      {dryRun && (
        <Card>
          <h2 className="text-base font-semibold">3. Review the dry run</h2>
          <div className="mt-3">
            <JobProgress status={dryRun} label="Dry run" onCancel={() => stop(dryRun.id)} stopping={pending} />
          </div>
          {dryRun.status === "succeeded" && (
            <>
              <p className="mt-3 text-sm" data-testid="dry-run-summary">
                {summary(dryRun.summary)}.
              </p>
              <ReportTable items={dryRun.problems.length ? dryRun.problems : dryRun.sample} title={dryRun.problems.length ? "Rows with errors (they will be skipped)" : "First rows"} />
              <div className="mt-4 flex gap-3">
                <a className="rounded-md border border-slate-300 px-3 py-2 text-sm" href={`/console/${environment.key}/jobs/${dryRun.id}/report`}>
                  Download the dry-run report
                </a>
                <Button disabled={pending || applyId !== null} onClick={() => run(true)}>
                  Apply the import
                </Button>
              </div>
            </>
          )}
        </Card>
      )}

      {applied && (
        <Card>
          <h2 className="text-base font-semibold">4. Import</h2>
          <div className="mt-3">
            <JobProgress status={applied} label="Import" onCancel={() => stop(applied.id)} stopping={pending} />
          </div>
          {applied.status === "succeeded" && (
            <p className="mt-3 text-sm" data-testid="import-summary">
              Imported. {summary(applied.summary).replace("to create", "created").replace("to update", "updated")}.
            </p>
          )}
          {!jobActive(applied) && (
            <a className="mt-3 inline-block rounded-md border border-slate-300 px-3 py-2 text-sm" href={`/console/${environment.key}/jobs/${applied.id}/report`}>
              Download the report
            </a>
          )}
        </Card>
      )}
    </div>
  );
}

function ReportTable({ items, title }: { items: { seq: number; key: string | null; outcome: string; detail: string | null }[]; title: string }) {
  return (
    <div className="mt-3">
      <SimpleTable
        caption={title}
        showCaption
        rows={items}
        rowKey={(i) => i.seq}
        columns={[
          { header: "Row", cell: (i) => i.seq },
          { header: "Email", cell: (i) => i.key },
          { header: "Outcome", cell: (i) => i.outcome },
          { header: "Detail", cell: (i) => i.detail },
        ]}
      />
    </div>
  );
}
