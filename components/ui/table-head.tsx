/** A data table's header row: one column header per label (an empty label for an unlabelled column). */
export function TableHead({ headers }: { headers: string[] }) {
  return (
    <thead className="bg-slate-50 text-xs uppercase text-slate-500">
      <tr>
        {headers.map((h, i) => (
          <th key={i} scope="col" className="px-3 py-2">
            {h}
          </th>
        ))}
      </tr>
    </thead>
  );
}
