"use client";

import { useState } from "react";
import { THEME_COOKIE, THEMES, type Theme } from "./theme";

const LABELS: Record<Theme, string> = { system: "System", light: "Light", dark: "Dark" };

/** Light, dark, or the system's preference: kept in a cookie (the root layout reads it: no flash). */
export function ThemeToggle({ initial }: { initial: Theme }) {
  const [theme, setTheme] = useState<Theme>(initial);
  return (
    <label className="flex items-center gap-2 text-sm text-slate-600">
      Theme
      <select
        value={theme}
        onChange={(e) => {
          const next = e.target.value as Theme;
          setTheme(next);
          document.documentElement.dataset.theme = next;
          document.cookie = next === "system" ? `${THEME_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax` : `${THEME_COOKIE}=${next}; Path=/; Max-Age=31536000; SameSite=Lax`;
        }}
        className="rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-800"
      >
        {THEMES.map((t) => (
          <option key={t} value={t}>
            {LABELS[t]}
          </option>
        ))}
      </select>
    </label>
  );
}
