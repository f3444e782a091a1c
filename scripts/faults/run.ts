import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

// `npm run test:faults`: the backup/restore test (vitest, real Postgres), then the fault tests
// (scripts/faults/*.fault.ts: kill -9 mid-burst and mid-import, database restart, two instances).
// The last line sums both: `N passed, N failed`.

const outDir = path.resolve("test-results");
fs.mkdirSync(outDir, { recursive: true });
const vitest = path.resolve("node_modules", ".bin", "vitest");
let passed = 0;
let failed = 0;
for (const [name, args] of [
  ["backup", ["run", "lib/backup"]],
  ["faults", ["run", "--config", "scripts/faults/vitest.config.ts"]],
] as const) {
  const report = path.join(outDir, `faults-${name}.json`);
  fs.rmSync(report, { force: true });
  const result = spawnSync(vitest, [...args, "--reporter=default", "--reporter=json", `--outputFile.json=${report}`], { stdio: "inherit" });
  if (!fs.existsSync(report)) {
    console.error(`${name}: no report was written (exit ${result.status}).`);
    failed++;
    continue;
  }
  const json = JSON.parse(fs.readFileSync(report, "utf8")) as { numPassedTests: number; numFailedTests: number };
  passed += json.numPassedTests;
  failed += json.numFailedTests || (result.status !== 0 ? 1 : 0);
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
