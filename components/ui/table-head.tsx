/** A table's header row: one column header per label; `{ label, hidden }` is read by screen readers only. */
export function TableHead({ headers }: { headers: (string | { label: string; hidden?: boolean })[] }) {
  return (
    <thead className="bg-slate-50 text-xs uppercase text-slate-500">
      <tr>
        {headers.map((h, i) => (
          <th key={i} scope="col" className="px-3 py-2">
            {typeof h === "string" ? h : h.hidden ? <span className="sr-only">{h.label}</span> : h.label}
          </th>
        ))}
      </tr>
    </thead>
  );
}
