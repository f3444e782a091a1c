import { describe, expect, it } from "vitest";
import { safeReturnPath } from "./flow";

// An end user's return_to (and an IdP-initiated RelayState) names a page of their own environment:
// the shared redirect rule (lib/net/redirect) first, then "/e/<this environment>…".
describe("safeReturnPath", () => {
  it("keeps this environment's pages", () => {
    for (const path of ["/e/dev", "/e/dev/", "/e/dev/genies/abc", "/e/dev?tab=tokens", "/e/dev/sign-in?x=%2F"]) expect([path, safeReturnPath(path, "dev")]).toEqual([path, path]);
  });

  it("refuses other origins, control characters, and another environment that merely starts with the same letters", () => {
    const refused = ["//evil.example", "/\\evil.example", "/%5Cevil.example", "/\t/evil.example", "https:evil.example", "javascript:alert(1)", "http://evil.example/e/dev", " /e/dev", "/e/dev\n", "/e/devil", "/e/dev-other/genies", "/e/prod", "/console", "", null, undefined];
    expect(refused.map((v) => [v, safeReturnPath(v, "dev")])).toEqual(refused.map((v) => [v, null]));
  });
});
