"use client";

import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

/** Users with access and users by status per environment, side by side. */
export function EnvironmentChart({ data }: { data: { name: string; active: number; invited: number; suspended: number }[] }) {
  return (
    <figure aria-label="Users per environment by status">
      <div className="h-64 w-full">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data} margin={{ top: 8, right: 16, left: 8, bottom: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey="name" />
            <YAxis allowDecimals={false} width={70} tickFormatter={(v: number) => v.toLocaleString("en")} />
            <Tooltip formatter={(v) => Number(v).toLocaleString("en")} />
            <Legend />
            <Bar dataKey="active" stackId="s" fill="#1f57cc" name="Active" />
            <Bar dataKey="invited" stackId="s" fill="#7aa7f5" name="Invited" />
            <Bar dataKey="suspended" stackId="s" fill="#d97706" name="Suspended or deprovisioned" />
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="sr-only">
        {data.map((d) => `${d.name}: ${d.active} active, ${d.invited} invited, ${d.suspended} suspended or deprovisioned`).join("; ")}
      </figcaption>
    </figure>
  );
}
