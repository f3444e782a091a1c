/** Secrets shown once after they are made (API tokens, SCIM tokens): copy them now, they are not kept. */
export function ShownOnce({ intro, values }: { intro: string; values: { label?: string; value: string; testId: string }[] }) {
  return (
    <div role="status" className="rounded-md border border-green-300 bg-green-50 p-3 text-sm">
      <p className="font-medium">{intro} Copy the token now: it is shown only this once.</p>
      {values.map((v) => (
        <div key={v.testId} className="mt-2">
          {v.label && <p>{v.label}</p>}
          <code data-testid={v.testId} className="mt-1 block break-all rounded bg-white p-2">
            {v.value}
          </code>
        </div>
      ))}
    </div>
  );
}
