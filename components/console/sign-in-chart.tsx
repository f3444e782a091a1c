"use client";

import type { SignInDay } from "@/lib/audit/queries";
import { StackedBarChart } from "./stacked-bar-chart";

/** Whether any sign-in, successful or not, happened in the period. */
export function hasSignIns(data: SignInDay[]): boolean {
  return data.some((d) => d.passwordSuccess + d.ssoSuccess + d.passwordFailure + d.ssoFailure > 0);
}

/** End-user sign-ins per day: successes by method, failures by method. */
export function SignInChart({ data }: { data: SignInDay[] }) {
  if (!hasSignIns(data)) {
    return (
      <p className="flex h-40 items-center justify-center rounded-md border border-dashed border-slate-200 text-sm text-slate-500" data-testid="no-sign-ins">
        No sign-ins in the last {data.length} days yet.
      </p>
    );
  }
  return (
    <StackedBarChart<SignInDay>
      label="Sign-ins per day by method and outcome"
      data={data}
      xKey="day"
      xFormat={(d) => d.slice(5)}
      yWidth={50}
      series={[
        { key: "passwordSuccess", name: "Password", color: "#1f57cc", stack: "ok" },
        { key: "ssoSuccess", name: "SSO", color: "#7aa7f5", stack: "ok" },
        { key: "passwordFailure", name: "Password, failed", color: "#b91c1c", stack: "failed" },
        { key: "ssoFailure", name: "SSO, failed", color: "#f59e0b", stack: "failed" },
      ]}
      caption={data.map((d) => `${d.day}: ${d.passwordSuccess} password and ${d.ssoSuccess} SSO sign-ins, ${d.passwordFailure} password and ${d.ssoFailure} SSO failures`).join("; ")}
    />
  );
}
