import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

// The house shows its layers (../shared/DESIGN.md): db/ imports nothing above it; the domain
// (lib/<domain>) never imports a door (lib/doors: SCIM, REST, components, HTTP helpers, the server).

function files(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name).split(path.sep).join("/");
    if (e.isDirectory()) return e.name === "migrations" || e.name === "node_modules" ? [] : files(p);
    return /\.tsx?$/.test(e.name) && !/\.test\.tsx?$/.test(e.name) ? [p] : [];
  });
}

const importsOf = (file: string) => [...fs.readFileSync(file, "utf8").matchAll(/(?:from|import\()\s*["']([^"']+)["']/g)].map((m) => m[1]!);

describe("layers", () => {
  it("db/ imports nothing from the domain, the doors, the app or the scripts", () => {
    const offenders = files("db").flatMap((f) => importsOf(f).filter((i) => /^@\/(lib|app|components|scripts|test-support)\//.test(i)).map((i) => `${f} imports ${i}`));
    expect(offenders).toEqual([]);
  });

  it("the domain (lib/<domain>) never imports a door (lib/doors)", () => {
    const domain = files("lib").filter((f) => !f.startsWith("lib/doors/") && !f.includes("/testing/"));
    expect(domain.length).toBeGreaterThan(50);
    const offenders = domain.flatMap((f) => importsOf(f).filter((i) => i.startsWith("@/lib/doors/")).map((i) => `${f} imports ${i}`));
    expect(offenders).toEqual([]);
  });
});
