import fs from "node:fs";

// CPU time spent by processes, read from /proc (Linux): a benchmark's accounting of where a
// request's CPU goes (the app's process group, every Postgres process, the benchmark itself).

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

function stat(pid: string): { comm: string; pgrp: number; cpuMs: number } | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = raw.lastIndexOf(")");
    const comm = raw.slice(raw.indexOf("(") + 1, close);
    const fields = raw.slice(close + 2).split(" ");
    // After the command: state(0) ppid(1) pgrp(2) … utime(11) stime(12).
    return { comm, pgrp: Number(fields[2]), cpuMs: ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND };
  } catch {
    return null; // gone meanwhile
  }
}

export type CpuSnapshot = { app: Map<string, number>; postgres: Map<string, number>; self: number };

/** CPU milliseconds used so far by each process of a process group, and by each process named postgres. */
export function cpuSnapshot(appProcessGroup: number | null): CpuSnapshot {
  const app = new Map<string, number>();
  const postgres = new Map<string, number>();
  for (const pid of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const s = stat(pid);
    if (!s) continue;
    if (appProcessGroup !== null && s.pgrp === appProcessGroup) app.set(pid, s.cpuMs);
    if (s.comm === "postgres") postgres.set(pid, s.cpuMs);
  }
  const own = process.cpuUsage();
  return { app, postgres, self: (own.user + own.system) / 1000 };
}

/**
 * CPU milliseconds per operation between two snapshots, process by process (a process that started
 * meanwhile counts from zero; one that exited meanwhile is not counted).
 */
export function cpuPerOperation(before: CpuSnapshot, after: CpuSnapshot, operations: number) {
  const delta = (b: Map<string, number>, a: Map<string, number>) => [...a].reduce((sum, [pid, ms]) => sum + Math.max(0, ms - (b.get(pid) ?? 0)), 0);
  const per = (ms: number) => +(ms / operations).toFixed(2);
  return { app: per(delta(before.app, after.app)), postgres: per(delta(before.postgres, after.postgres)), self: per(after.self - before.self) };
}
