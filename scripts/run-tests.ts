import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

// `npm test`: vitest (unit + integration on real Postgres), then Playwright (e2e in Chromium against
// a production build). Each runner writes a JSON report; the last line sums them all:
// `N passed, N failed`, so a run that executed nothing is visible. --only vitest|e2e runs one;
// --files a,b (or file paths after the options: `npm run test:e2e -- e2e/sso.spec.ts`) limits the
// runner to those test files (`npm run test:scope`).

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const only = arg("--only");
const optionValues = new Set(["--only", "--files"].map(arg));
const positional = process.argv.slice(2).filter((a) => !a.startsWith("--") && !optionValues.has(a));
const files = [...(arg("--files")?.split(",").filter(Boolean) ?? []), ...positional];
const outDir = path.resolve("test-results");
fs.mkdirSync(outDir, { recursive: true });
const bin = (name: string) => path.resolve("node_modules", ".bin", name);

type Count = { runner: string; passed: number; failed: number };
// The fields read from vitest's and Playwright's JSON reports.
type Report = { numPassedTests: number; numFailedTests: number; stats: { expected: number; unexpected: number; flaky: number } };
const counts: Count[] = [];
/** Failing tests with their first error line, printed again just above the summary (CI keeps the tail of a log). */
const failures: string[] = [];
const firstLine = (message = "") => message.replace(/\x1b\[[0-9;]*m/g, "").trim().split("\n")[0]!.slice(0, 300);

type VitestReport = { testResults?: { name: string; message?: string; assertionResults?: { fullName: string; status: string; failureMessages?: string[] }[] }[] };
function vitestFailures(j: VitestReport) {
  for (const file of j.testResults ?? []) {
    const rel = path.relative(process.cwd(), file.name);
    const failed = (file.assertionResults ?? []).filter((t) => t.status === "failed");
    for (const t of failed) failures.push(`vitest ${rel} › ${t.fullName}: ${firstLine(t.failureMessages?.[0])}`);
    if (!failed.length && file.message) failures.push(`vitest ${rel}: ${firstLine(file.message)}`);
  }
}

type PlaywrightSuite = {
  title: string; file?: string; suites?: PlaywrightSuite[];
  specs?: { title: string; file: string; line: number; tests: { projectName: string; status: string; results: { status: string; errors?: { message?: string }[] }[] }[] }[];
};
function playwrightFailures(j: { suites?: PlaywrightSuite[]; errors?: { message?: string }[] }) {
  const walk = (suite: PlaywrightSuite) => {
    for (const spec of suite.specs ?? []) {
      for (const t of spec.tests) {
        if (t.status !== "unexpected" && t.status !== "flaky") continue;
        const result = t.results.find((r) => r.status !== "passed" && r.status !== "skipped");
        failures.push(`playwright [${t.projectName}] ${spec.file}:${spec.line} › ${spec.title} (${t.status}): ${firstLine(result?.errors?.[0]?.message)}`);
      }
    }
    suite.suites?.forEach(walk);
  };
  j.suites?.forEach(walk);
  for (const e of j.errors ?? []) failures.push(`playwright: ${firstLine(e.message)}`);
}

function run(runner: string, command: string, args: string[], report: string, read: (json: Report) => Omit<Count, "runner">, env: Record<string, string> = {}) {
  fs.rmSync(report, { force: true });
  const result = spawnSync(command, args, { stdio: "inherit", env: { ...process.env, ...env } });
  if (!fs.existsSync(report)) {
    // The runner died before reporting: count it as a failure so the summary cannot look green.
    console.error(`${runner}: no report was written (exit ${result.status}).`);
    counts.push({ runner, passed: 0, failed: 1 });
    return;
  }
  const json = JSON.parse(fs.readFileSync(report, "utf8"));
  if (runner === "vitest") vitestFailures(json);
  else playwrightFailures(json);
  const count = { runner, ...read(json) };
  if (result.status !== 0 && count.failed === 0) count.failed = 1; // e.g. a failing setup or an unhandled error
  counts.push(count);
}

if (!only || only === "vitest") {
  const report = path.join(outDir, "vitest.json");
  run("vitest", bin("vitest"), ["run", ...files, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`], report, (j) => ({
    passed: j.numPassedTests,
    failed: j.numFailedTests,
  }));
}

if (!only || only === "e2e") {
  const report = path.join(outDir, "e2e.json");
  run("playwright", bin("playwright"), ["test", ...files], report, (j) => ({ passed: j.stats.expected, failed: j.stats.unexpected + j.stats.flaky }), {
    PLAYWRIGHT_JSON_OUTPUT_NAME: report,
  });
}

const passed = counts.reduce((n, c) => n + c.passed, 0);
const failed = counts.reduce((n, c) => n + c.failed, 0);
fs.writeFileSync(path.join(outDir, "summary.json"), JSON.stringify({ passed, failed, runners: counts, failures }, null, 2));
if (failures.length) console.log(`Failed:\n${failures.map((f) => `  ${f}`).join("\n")}`);
for (const c of counts) console.log(`${c.runner}: ${c.passed} passed, ${c.failed} failed`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
