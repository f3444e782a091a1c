"use client";

import { StackedBarChart } from "./stacked-bar-chart";

type Row = { name: string; active: number; invited: number; suspended: number };

/** Users with access and users by status per environment, side by side. */
export function EnvironmentChart({ data }: { data: Row[] }) {
  return (
    <StackedBarChart<Row>
      label="Users per environment by status"
      data={data}
      xKey="name"
      series={[
        { key: "active", name: "Active", color: "#1f57cc", stack: "s" },
        { key: "invited", name: "Invited", color: "#7aa7f5", stack: "s" },
        { key: "suspended", name: "Suspended or deprovisioned", color: "#d97706", stack: "s" },
      ]}
      caption={data.map((d) => `${d.name}: ${d.active} active, ${d.invited} invited, ${d.suspended} suspended or deprovisioned`).join("; ")}
    />
  );
}
