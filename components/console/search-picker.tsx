"use client";

import { useEffect, useId, useRef, useState } from "react";

export type PickerOption = { id: string; name: string; detail?: string };
export type GroupOption = PickerOption;

/**
 * A combobox that searches on the server as you type (groups or users: there may be tens of
 * thousands or millions). Arrow keys move, Enter picks, Escape closes.
 */
export function SearchPicker({
  label,
  search,
  value,
  onChange,
  placeholder = "Search groups",
}: {
  label: string;
  search: (q: string) => Promise<PickerOption[]>;
  value: PickerOption | null;
  onChange: (option: PickerOption | null) => void;
  placeholder?: string;
}) {
  const id = useId();
  const [query, setQuery] = useState(value?.name ?? "");
  const [options, setOptions] = useState<PickerOption[]>([]);
  const [open, setOpen] = useState(false);
  const [active, setActive] = useState(0);
  const latest = useRef(0);

  useEffect(() => {
    if (!open) return;
    const ticket = ++latest.current;
    const timer = setTimeout(async () => {
      const found = await search(query);
      if (ticket === latest.current) {
        setOptions(found);
        setActive(0);
      }
    }, 200);
    return () => clearTimeout(timer);
  }, [query, open, search]);

  const pick = (g: PickerOption | null) => {
    onChange(g);
    setQuery(g?.name ?? "");
    setOpen(false);
  };

  return (
    <div className="relative flex flex-col gap-1">
      <label htmlFor={id} className="text-sm font-medium text-slate-700">
        {label}
      </label>
      <input
        id={id}
        role="combobox"
        aria-expanded={open}
        aria-controls={`${id}-list`}
        aria-autocomplete="list"
        aria-activedescendant={open && options[active] ? `${id}-${options[active]!.id}` : undefined}
        autoComplete="off"
        className="w-64 rounded-md border border-slate-300 px-3 py-2 text-sm"
        placeholder={placeholder}
        value={query}
        onFocus={() => setOpen(true)}
        onBlur={() => setTimeout(() => setOpen(false), 150)}
        onChange={(e) => {
          setQuery(e.target.value);
          setOpen(true);
          if (!e.target.value) onChange(null);
        }}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setOpen(true);
            setActive((a) => Math.min(a + 1, options.length - 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (e.key === "Enter" && open && options[active]) {
            e.preventDefault();
            pick(options[active]!);
          } else if (e.key === "Escape") {
            setOpen(false);
          }
        }}
      />
      {open && options.length > 0 && (
        <ul id={`${id}-list`} role="listbox" className="absolute top-full z-20 mt-1 max-h-64 w-64 overflow-auto rounded-md border border-slate-200 bg-white shadow-lg">
          {options.map((g, i) => (
            <li
              key={g.id}
              id={`${id}-${g.id}`}
              role="option"
              aria-selected={i === active}
              className={`cursor-pointer px-3 py-2 text-sm ${i === active ? "bg-brand-50" : ""}`}
              onMouseDown={(e) => {
                e.preventDefault();
                pick(g);
              }}
            >
              {g.name} {g.detail && <span className="text-slate-500">· {g.detail}</span>}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

export const GroupPicker = (props: Omit<Parameters<typeof SearchPicker>[0], "placeholder"> & { placeholder?: string }) => (
  <SearchPicker placeholder="Search groups" {...props} />
);

/** Several options picked one after another with the server-side search, shown as removable chips. */
export function MultiPicker({
  label,
  search,
  value,
  onChange,
  placeholder,
}: {
  label: string;
  search: (q: string) => Promise<PickerOption[]>;
  value: PickerOption[];
  onChange: (options: PickerOption[]) => void;
  placeholder?: string;
}) {
  return (
    <div className="flex flex-wrap items-end gap-2">
      <SearchPicker
        label={label}
        search={search}
        value={null}
        placeholder={placeholder}
        onChange={(o) => o && !value.some((v) => v.id === o.id) && onChange([...value, o])}
      />
      <ul className="flex flex-wrap gap-1" aria-label={`${label}: chosen`}>
        {value.map((o) => (
          <li key={o.id} className="inline-flex items-center gap-1 rounded bg-slate-100 px-2 py-1 text-sm">
            {o.name}
            <button type="button" aria-label={`Remove ${o.name}`} className="text-slate-500" onClick={() => onChange(value.filter((v) => v.id !== o.id))}>
              ×
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
