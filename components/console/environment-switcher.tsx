"use client";

import { usePathname, useRouter } from "next/navigation";

/** Switches the environment segment of the URL, keeping the page: /console/<env>/users → /console/prod/users. */
export function EnvironmentSwitcher({ environments, current }: { environments: { key: string; name: string }[]; current: string }) {
  const router = useRouter();
  const pathname = usePathname();
  return (
    <label className="flex items-center gap-2 text-sm text-slate-600">
      <span>Environment</span>
      <select
        aria-label="Environment"
        data-testid="environment-switcher"
        className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm font-medium text-slate-900"
        value={current}
        onChange={(event) => {
          const rest = pathname.split("/").slice(3).join("/");
          router.push(`/console/${event.target.value}${rest ? `/${rest}` : ""}`);
        }}
      >
        {environments.map((e) => (
          <option key={e.key} value={e.key}>
            {e.name}
          </option>
        ))}
      </select>
    </label>
  );
}
