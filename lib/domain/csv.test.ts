import fs from "node:fs";
import path from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { csvLines } from "./csv";

describe("csvLines (the one CSV writer)", () => {
  it("prefixes with ' and quotes every text cell that a spreadsheet would run as a formula", () => {
    const formulas = ["=1+1", "+1", "-1", "-2+3", "@SUM(A1)", "\t=1", "\r=1", "\uFF1D1+1", "\uFF0B1", "\uFF0D1", "\uFF20SUM(A1)", '=HYPERLINK("http://evil.example","x")'];
    const csv = csvLines([formulas]);
    expect(csv).toBe(`${formulas.map((f) => `"'${f.replaceAll('"', '""')}"`).join(",")}\n`);
    // Read back, each cell is the text with the ' in front: shown as text, never evaluated.
    expect(parse(csv)).toEqual([formulas.map((f) => `'${f}`)]);
  });

  it("leaves ordinary cells as they were: text, e-mail addresses, times, and numbers (a negative number is a number, not text)", () => {
    const row = ["Ann Lee", "ann@example.com", "2026-01-02T03:04:05.000Z", "a=b", "x-y", 3, -5, 0, "", null, undefined, "a,b", 'say "hi"'];
    expect(csvLines([row])).toBe('Ann Lee,ann@example.com,2026-01-02T03:04:05.000Z,a=b,x-y,3,-5,0,,,,"a,b","say ""hi"""\n');
    // The OWASP rule counts text, not numbers: "-5" typed as text is neutralised like any leading "-".
    expect(csvLines([["-5"]])).toBe(`"'-5"\n`);
  });
});

// No export can forget the writer: the CSV library is imported by lib/domain/csv.ts alone, and
// only lib/doors/http/csv.ts answers with text/csv; every route that names a .csv download goes
// through it.
function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name).split(path.sep).join("/");
    if (e.isDirectory()) return e.name === "node_modules" || e.name.startsWith(".") ? [] : sourceFiles(p);
    return /\.(ts|tsx|mjs)$/.test(e.name) && !/\.(test|spec|fault)\.tsx?$/.test(e.name) ? [p] : [];
  });
}

describe("every CSV goes through the writer", () => {
  const files = ["app", "lib", "components", "scripts"].flatMap(sourceFiles);
  // A download: a route answering GET that names a .csv file (the import's upload route takes one in by POST).
  const csvDownloads = () => files.filter((f) => f.endsWith("/route.ts") && /export (async )?function GET/.test(fs.readFileSync(f, "utf8")) && /\.csv\b/.test(fs.readFileSync(f, "utf8")));

  it("finds the export routes (the check can fail)", () => {
    expect(csvDownloads().map((f) => f.replace(/^app\/console\/\[env\]\//, ""))).toEqual([
      "access/[resourceId]/who/route.ts",
      "audit/export/route.ts",
      "history/export/route.ts",
      "jobs/[jobId]/report/route.ts",
      "memberships/export/route.ts",
      "reviews/[reviewId]/report/route.ts",
      "users/export/route.ts",
    ]);
  });

  it("only lib/domain/csv.ts imports csv-stringify", () => {
    expect(files.filter((f) => /from\s+["']csv-stringify/.test(fs.readFileSync(f, "utf8")))).toEqual(["lib/domain/csv.ts"]);
  });

  it("only lib/doors/http/csv.ts sends text/csv, and every route naming a .csv download uses it", () => {
    const responses = files.filter((f) => /["']content-type["']\s*:\s*["']text\/csv/i.test(fs.readFileSync(f, "utf8")) && !f.endsWith(".tsx"));
    expect(responses).toEqual(["lib/doors/http/csv.ts"]);
    expect(csvDownloads().filter((f) => !/from\s+["']@\/lib\/doors\/http\/csv["']/.test(fs.readFileSync(f, "utf8")))).toEqual([]);
  });
});
