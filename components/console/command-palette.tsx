"use client";

import * as Dialog from "@radix-ui/react-dialog";
import { Command } from "cmdk";
import { Search } from "lucide-react";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import type { PaletteHit } from "@/lib/search/palette";
import type { ActionResult } from "@/lib/actions";

type Props = {
  environment: { id: string; key: string; name: string };
  environments: { key: string; name: string }[];
  /** The server action behind the search (app/console/[env]/actions.ts). */
  search: (input: { environmentId: string; environmentKey: string; q: string }) => Promise<ActionResult<PaletteHit[]>>;
};

const PAGES = [
  ["Overview", ""],
  ["Users", "/users"],
  ["Groups", "/groups"],
  ["Identity providers", "/identity-providers"],
  ["Access", "/access"],
  ["Access requests", "/access-requests"],
  ["Directories", "/directories"],
  ["Audit", "/audit"],
  ["As of a date", "/history"],
  ["Access reviews", "/reviews"],
  ["Promote", "/promote"],
  ["Settings", "/settings"],
] as const;

/**
 * ⌘K / Ctrl-K: jump to any user, group, resource, IdP or directory of this environment (searched on
 * the server as you type), to a page, or run a common action (add a user, grant access, switch
 * environment). Keyboard only: arrows, Enter, Escape (cmdk in a Radix dialog).
 */
export function CommandPalette({ environment, environments, search }: Props) {
  const router = useRouter();
  const [open, setOpen] = useState(false);
  const [q, setQ] = useState("");
  const [hits, setHits] = useState<PaletteHit[]>([]);
  const [searching, setSearching] = useState(false);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if ((e.metaKey || e.ctrlKey) && e.key.toLowerCase() === "k") {
        e.preventDefault();
        setOpen((o) => !o);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  useEffect(() => {
    if (!open || q.trim().length < 2) return;
    let stale = false;
    const timer = setTimeout(async () => {
      setSearching(true);
      const result = await search({ environmentId: environment.id, environmentKey: environment.key, q });
      if (!stale) {
        setHits(result.ok ? result.data : []);
        setSearching(false);
      }
    }, 150);
    return () => {
      stale = true;
      clearTimeout(timer);
    };
  }, [q, open, environment.id, environment.key, search]);

  const go = (href: string) => {
    setOpen(false);
    setQ("");
    setHits([]);
    router.push(href);
  };
  const base = `/console/${environment.key}`;
  const needle = q.trim().toLowerCase();
  const matches = (label: string) => !needle || label.toLowerCase().includes(needle);
  const actions = [
    { label: "Add a user", href: `${base}/users?add=1` },
    { label: "Grant access", href: `${base}/access` },
    { label: "Create a group", href: `${base}/groups` },
    { label: "Connect an identity provider", href: `${base}/identity-providers` },
    ...environments.filter((e) => e.key !== environment.key).map((e) => ({ label: `Switch to ${e.name}`, href: `/console/${e.key}` })),
  ].filter((a) => matches(a.label));
  const pages = PAGES.filter(([label]) => matches(label));
  const shownHits = needle.length >= 2 ? hits : [];

  return (
    <>
      <button
        type="button"
        onClick={() => setOpen(true)}
        className="inline-flex items-center gap-2 rounded-md border border-slate-300 px-3 py-1.5 text-sm text-slate-600 hover:bg-slate-50"
        aria-keyshortcuts="Control+K Meta+K"
      >
        <Search aria-hidden className="h-4 w-4" />
        Search or jump to…
        <kbd className="rounded border border-slate-300 px-1 text-xs">Ctrl K</kbd>
      </button>
      <Dialog.Root open={open} onOpenChange={setOpen}>
        <Dialog.Portal>
          <Dialog.Overlay className="fixed inset-0 bg-slate-900/40" />
          <Dialog.Content className="fixed left-1/2 top-24 w-full max-w-xl -translate-x-1/2 rounded-lg bg-white shadow-xl" aria-describedby={undefined}>
            <Dialog.Title className="sr-only">Command palette</Dialog.Title>
            <Command shouldFilter={false} label="Command palette" className="flex flex-col">
              <Command.Input
                value={q}
                onValueChange={setQ}
                placeholder={`Find a user, group, resource… in ${environment.name}, or a page or action`}
                className="border-b border-slate-200 px-4 py-3 text-sm outline-none"
              />
              <Command.List className="max-h-96 overflow-auto p-2 text-sm">
                <Command.Empty className="px-3 py-2 text-slate-600">{searching ? "Searching…" : "Nothing matches."}</Command.Empty>
                {shownHits.length > 0 && (
                  <Command.Group heading={`In ${environment.name}`} className="text-xs text-slate-600">
                    {shownHits.map((h) => (
                      <Command.Item key={h.href} value={h.href} onSelect={() => go(h.href)} className="flex cursor-pointer items-baseline gap-2 rounded px-3 py-2 text-sm text-slate-900 data-[selected=true]:bg-brand-50">
                        <span className="font-medium">{h.label}</span>
                        <span className="text-xs text-slate-600">
                          {h.kind} · {h.detail}
                        </span>
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
                {actions.length > 0 && (
                  <Command.Group heading="Actions" className="text-xs text-slate-600">
                    {actions.map((a) => (
                      <Command.Item key={a.label} value={`action:${a.label}`} onSelect={() => go(a.href)} className="cursor-pointer rounded px-3 py-2 text-sm text-slate-900 data-[selected=true]:bg-brand-50">
                        {a.label}
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
                {pages.length > 0 && (
                  <Command.Group heading="Pages" className="text-xs text-slate-600">
                    {pages.map(([label, href]) => (
                      <Command.Item key={label} value={`page:${label}`} onSelect={() => go(`${base}${href}`)} className="cursor-pointer rounded px-3 py-2 text-sm text-slate-900 data-[selected=true]:bg-brand-50">
                        {label}
                      </Command.Item>
                    ))}
                  </Command.Group>
                )}
              </Command.List>
            </Command>
          </Dialog.Content>
        </Dialog.Portal>
      </Dialog.Root>
    </>
  );
}
