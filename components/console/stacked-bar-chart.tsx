"use client";

import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";

export type Series<T> = { key: keyof T & string; name: string; color: string; stack: string };

/** A bar chart with stacked series and a text equivalent for screen readers (the console's charts). */
export function StackedBarChart<T extends Record<string, unknown>>({
  label,
  data,
  xKey,
  series,
  caption,
  xFormat,
  yWidth = 70,
}: {
  label: string;
  data: T[];
  xKey: keyof T & string;
  series: Series<T>[];
  caption: string;
  xFormat?: (value: string) => string;
  yWidth?: number;
}) {
  return (
    <figure aria-label={label}>
      <div className="h-64 w-full">
        <ResponsiveContainer width="100%" height="100%">
          <BarChart data={data as Record<string, unknown>[]} margin={{ top: 8, right: 16, left: 8, bottom: 0 }}>
            <CartesianGrid strokeDasharray="3 3" vertical={false} />
            <XAxis dataKey={xKey as string} tickFormatter={xFormat} />
            <YAxis allowDecimals={false} width={yWidth} tickFormatter={(v: number) => v.toLocaleString("en")} />
            <Tooltip formatter={(v) => Number(v).toLocaleString("en")} />
            <Legend />
            {series.map((s) => (
              <Bar key={s.key} dataKey={s.key as string} stackId={s.stack} fill={s.color} name={s.name} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      </div>
      <figcaption className="sr-only">{caption}</figcaption>
    </figure>
  );
}
