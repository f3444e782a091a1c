import { CopyButton } from "./copy-button";

/** Secrets shown once after they are made (API tokens, SCIM tokens): copy them now, they are not kept. */
export function ShownOnce({ intro, values, kind = "token" }: { intro: string; values: { label?: string; value: string; testId: string }[]; kind?: "token" | "secret" }) {
  return (
    <div role="status" className="rounded-md border border-green-300 bg-green-50 p-3 text-sm">
      <p className="font-medium">{intro} Copy the {kind} now: it is shown only this once.</p>
      {values.map((v) => (
        <div key={v.testId} className="mt-2">
          {v.label && <p>{v.label}</p>}
          <div className="mt-1 flex items-start gap-1">
            <code data-testid={v.testId} className="block flex-1 break-all rounded bg-white p-2">
              {v.value}
            </code>
            <CopyButton value={v.value} label={v.label ?? `the ${kind}`} />
          </div>
        </div>
      ))}
    </div>
  );
}
