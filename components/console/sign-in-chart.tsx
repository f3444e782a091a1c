"use client";

import type { SignInDay } from "@/lib/audit/queries";
import { StackedBarChart } from "./stacked-bar-chart";

/** End-user sign-ins per day: successes by method, failures by method. */
export function SignInChart({ data }: { data: SignInDay[] }) {
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
