"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { clsx } from "clsx";
import { ClipboardCheck, FileClock, Fingerprint, FolderSync, GitCompareArrows, History, Inbox, LayoutDashboard, Settings, ShieldCheck, Users, UsersRound } from "lucide-react";

const ITEMS = [
  { href: "", label: "Overview", icon: LayoutDashboard },
  { href: "/users", label: "Users", icon: Users },
  { href: "/groups", label: "Groups", icon: UsersRound },
  { href: "/identity-providers", label: "Identity providers", icon: Fingerprint },
  { href: "/access", label: "Access", icon: ShieldCheck },
  { href: "/access-requests", label: "Access requests", icon: Inbox },
  { href: "/directories", label: "Directories", icon: FolderSync },
  { href: "/audit", label: "Audit", icon: FileClock },
  { href: "/history", label: "As of a date", icon: History },
  { href: "/reviews", label: "Access reviews", icon: ClipboardCheck },
  { href: "/promote", label: "Promote", icon: GitCompareArrows },
  { href: "/settings", label: "Settings", icon: Settings },
];

export function ConsoleNav({ envKey }: { envKey: string }) {
  const pathname = usePathname();
  const base = `/console/${envKey}`;
  return (
    <nav aria-label="Console" className="w-56 shrink-0 border-r border-slate-200 bg-white p-3">
      <ul className="flex flex-col gap-1">
        {ITEMS.map(({ href, label, icon: Icon }) => {
          const target = base + href;
          const active = href === "" ? pathname === base : pathname === target || pathname.startsWith(`${target}/`);
          return (
            <li key={label}>
              <Link
                href={target}
                aria-current={active ? "page" : undefined}
                className={clsx(
                  "flex items-center gap-2 rounded-md px-3 py-2 text-sm",
                  active ? "bg-brand-50 font-medium text-brand-700" : "text-slate-700 hover:bg-slate-100",
                )}
              >
                <Icon aria-hidden className="h-4 w-4" />
                {label}
              </Link>
            </li>
          );
        })}
      </ul>
    </nav>
  );
}
