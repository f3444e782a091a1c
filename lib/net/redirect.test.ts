import { describe, expect, it } from "vitest";
import { safeRedirectTarget } from "./redirect";

const origin = "http://localhost:3000";

describe("safeRedirectTarget", () => {
  it("refuses every spelling that a browser turns into another origin or a script", () => {
    const offSite = [
      "//evil.example",
      "/\\evil.example",
      "\\\\evil.example",
      "\\/evil.example",
      "/%5Cevil.example",
      "/%5cevil.example",
      "/%2F%2Fevil.example",
      "/%2f/evil.example",
      "/%09/evil.example",
      "/%0A/evil.example",
      "/.%2F%2Fevil.example",
      "/.//evil.example",
      "/console/../..//evil.example",
      "https:evil.example",
      "http://evil.example",
      "https://evil.example/console",
      "http://localhost:3000@evil.example/",
      "http://localhost:3001/console",
      "https://localhost:3000/console",
      "javascript:alert(document.domain)",
      "JaVaScRiPt:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      // Raw whitespace and control characters (browsers drop tabs and newlines, trim the ends).
      "/\t/evil.example",
      "/\n/evil.example",
      "/\r/evil.example",
      "\t//evil.example",
      " //evil.example",
      " /console",
      "\u0000/console",
      "\u001f//evil.example",
      "/console\u0085",
      "\u00a0//evil.example",
      // Not a target at all.
      "",
      "/%E0%A4%A",
      "/" + "a".repeat(2048),
    ];
    expect(offSite.map((target) => [target, safeRedirectTarget(target, origin)])).toEqual(offSite.map((target) => [target, null]));
    for (const notAString of [undefined, null, 42, ["/console"], { href: "/console" }]) expect(safeRedirectTarget(notAString, origin)).toBeNull();
  });

  it("keeps paths of this origin, with their query and hash, normalised", () => {
    const kept: [string, string][] = [
      ["/console", "/console"],
      ["/console/dev/users?status=active&q=ann%20lee#row-3", "/console/dev/users?status=active&q=ann%20lee#row-3"],
      ["/e/dev/sign-in?return_to=%2Fe%2Fdev", "/e/dev/sign-in?return_to=%2Fe%2Fdev"],
      ["/console/../console/prod", "/console/prod"],
      ["http://localhost:3000/console/test?x=1", "/console/test?x=1"],
      ["console/dev", "/console/dev"],
    ];
    expect(kept.map(([target]) => [target, safeRedirectTarget(target, origin)])).toEqual(kept);
  });

  it("judges against the origin it is given (the scheme counts)", () => {
    // Under https, "https:evil.example" is a relative path a browser resolves onto our own origin.
    expect(safeRedirectTarget("https:evil.example", "https://console.example")).toBe("/evil.example");
    expect(safeRedirectTarget("http:evil.example", origin)).toBe("/evil.example");
    expect(safeRedirectTarget("https://console.example/console", "https://console.example")).toBe("/console");
    expect(safeRedirectTarget("http://console.example/console", "https://console.example")).toBeNull();
    expect(safeRedirectTarget("/console", "not an origin")).toBeNull();
  });
});
