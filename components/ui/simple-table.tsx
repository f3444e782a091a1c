import type { ReactNode } from "react";
import { TableHead } from "./table-head";

export type SimpleColumn<T> = { header: string; hideHeader?: boolean; cell: (row: T) => ReactNode; className?: string };

/** A plain, accessible table for short lists that need no sorting or paging (those use DataTable). */
export function SimpleTable<T>({
  caption,
  showCaption = false,
  columns,
  rows,
  rowKey,
  empty,
}: {
  caption: string;
  showCaption?: boolean;
  columns: SimpleColumn<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
  empty?: ReactNode;
}) {
  return (
    <table className="w-full text-left text-sm">
      <caption className={showCaption ? "text-left font-medium" : "sr-only"}>{caption}</caption>
      <TableHead headers={columns.map((c) => ({ label: c.header, hidden: c.hideHeader }))} />
      <tbody>
        {rows.map((row) => (
          <tr key={rowKey(row)} className="border-t border-slate-100">
            {columns.map((c) => (
              <td key={c.header} className={c.className ?? "px-3 py-2"}>
                {c.cell(row)}
              </td>
            ))}
          </tr>
        ))}
        {rows.length === 0 && empty && (
          <tr>
            <td colSpan={columns.length} className="px-3 py-6 text-center text-slate-500">
              {empty}
            </td>
          </tr>
        )}
      </tbody>
    </table>
  );
}
