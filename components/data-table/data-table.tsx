"use client";

import { clsx } from "clsx";
import { ArrowDown, ArrowUp, ArrowUpDown } from "lucide-react";
import {
  rowSelectionFeature,
  rowSortingFeature,
  tableFeatures,
  useTable,
  type ColumnDef,
  type RowSelectionState,
  type SortingState,
  type RowData,
  type Updater,
} from "@tanstack/react-table";
import { counted } from "@/lib/domain/words";

// The one table of the app (TanStack Table v9, headless). Sorting, filtering and pagination happen
// on the server (the URL holds them); this component renders, reports sort clicks and row selection.

export const dataTableFeatures = tableFeatures({ rowSortingFeature, rowSelectionFeature });
export type DataTableColumn<TData extends RowData> = ColumnDef<typeof dataTableFeatures, TData>;

export type Sort = { id: string; desc: boolean };

function resolve<T>(updater: Updater<T>, previous: T): T {
  return typeof updater === "function" ? (updater as (old: T) => T)(previous) : updater;
}

export function DataTable<TData extends RowData & { id: string }>({
  columns,
  data,
  sort,
  onSortChange,
  selection,
  onSelectionChange,
  caption,
  empty,
}: {
  columns: DataTableColumn<TData>[];
  data: TData[];
  sort: Sort | null;
  onSortChange: (sort: Sort | null) => void;
  /** Selected row ids; omit to render without selection checkboxes. */
  selection?: RowSelectionState;
  onSelectionChange?: (selection: RowSelectionState) => void;
  caption: string;
  empty: React.ReactNode;
}) {
  const sorting: SortingState = sort ? [sort] : [];
  const rowSelection = selection ?? {};
  const table = useTable({
    features: dataTableFeatures,
    columns,
    data,
    getRowId: (row) => row.id,
    manualSorting: true,
    enableMultiSort: false,
    enableRowSelection: Boolean(onSelectionChange),
    state: { sorting, rowSelection },
    onSortingChange: (updater) => onSortChange(resolve(updater, sorting)[0] ?? null),
    onRowSelectionChange: (updater) => onSelectionChange?.(resolve(updater, rowSelection)),
  });
  const selectable = Boolean(onSelectionChange);

  return (
    <div className="overflow-x-auto">
      <table className="w-full text-left text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="bg-slate-50 text-xs uppercase text-slate-500">
          {table.getHeaderGroups().map((group) => (
            <tr key={group.id}>
              {selectable && (
                <th scope="col" className="w-10 px-3 py-2">
                  <input
                    type="checkbox"
                    aria-label="Select all rows on this page"
                    checked={table.getIsAllPageRowsSelected()}
                    ref={(el) => {
                      if (el) el.indeterminate = table.getIsSomePageRowsSelected() && !table.getIsAllPageRowsSelected();
                    }}
                    onChange={table.getToggleAllPageRowsSelectedHandler()}
                  />
                </th>
              )}
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                return (
                  <th
                    key={header.id}
                    scope="col"
                    className="whitespace-nowrap px-3 py-2 font-medium"
                    aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : undefined}
                  >
                    {header.isPlaceholder ? null : canSort ? (
                      <button
                        type="button"
                        className="inline-flex items-center gap-1 uppercase hover:text-slate-800"
                        onClick={header.column.getToggleSortingHandler()}
                      >
                        <table.FlexRender header={header} />
                        {sorted === "asc" ? (
                          <ArrowUp aria-hidden className="h-3 w-3" />
                        ) : sorted === "desc" ? (
                          <ArrowDown aria-hidden className="h-3 w-3" />
                        ) : (
                          <ArrowUpDown aria-hidden className="h-3 w-3 opacity-40" />
                        )}
                      </button>
                    ) : (
                      <table.FlexRender header={header} />
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody>
          {table.getRowModel().rows.map((row) => (
            <tr key={row.id} className={clsx("border-t border-slate-100", row.getIsSelected() && "bg-brand-50")}>
              {selectable && (
                <td className="px-3 py-2">
                  <input
                    type="checkbox"
                    aria-label={`Select row ${row.id}`}
                    checked={row.getIsSelected()}
                    onChange={row.getToggleSelectedHandler()}
                  />
                </td>
              )}
              {row.getAllCells().map((cell) => (
                <td key={cell.id} className="px-3 py-2 align-top">
                  <table.FlexRender cell={cell} />
                </td>
              ))}
            </tr>
          ))}
          {data.length === 0 && (
            <tr>
              <td colSpan={columns.length + (selectable ? 1 : 0)} className="px-3 py-10 text-center text-slate-500">
                {empty}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </div>
  );
}

export function DataTablePagination({
  total,
  noun,
  size,
  sizes,
  onSize,
  onPrev,
  onNext,
}: {
  total: { value: number; exact: boolean } | null;
  /** The counted thing, singular and plural ("user", "users"). */
  noun: { one: string; other: string };
  size: number;
  sizes: readonly number[];
  onSize: (size: number) => void;
  onPrev: (() => void) | null;
  onNext: (() => void) | null;
}) {
  return (
    <div className="flex flex-wrap items-center gap-4 border-t border-slate-200 px-4 py-3 text-sm text-slate-600">
      <span data-testid="table-total">
        {total === null
          ? null
          : total.exact
            ? counted(total.value, noun.one, noun.other)
            : `About ${total.value.toLocaleString("en")} ${noun.other} (estimate)`}
      </span>
      <label className="ml-auto flex items-center gap-2">
        Rows per page
        <select className="rounded-md border border-slate-300 px-2 py-1" value={size} onChange={(e) => onSize(Number(e.target.value))}>
          {sizes.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <div className="flex gap-2">
        <button type="button" className="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40" disabled={!onPrev} onClick={onPrev ?? undefined}>
          Previous
        </button>
        <button type="button" className="rounded-md border border-slate-300 px-3 py-1 disabled:opacity-40" disabled={!onNext} onClick={onNext ?? undefined}>
          Next
        </button>
      </div>
    </div>
  );
}
