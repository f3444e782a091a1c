import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { hasSignIns, SignInChart } from "./sign-in-chart";

const day = (d: string, n = 0) => ({ day: d, passwordSuccess: n, ssoSuccess: 0, passwordFailure: 0, ssoFailure: 0 });

describe("the sign-in chart", () => {
  it("says there is no sign-in yet instead of drawing empty axes", () => {
    const quiet = [day("2026-12-01"), day("2026-12-02")];
    expect(hasSignIns(quiet)).toBe(false);
    expect(renderToStaticMarkup(<SignInChart data={quiet} />)).toContain("No sign-ins in the last 2 days yet.");
    const busy = [day("2026-12-01"), day("2026-12-02", 3)];
    expect(hasSignIns(busy)).toBe(true);
    expect(renderToStaticMarkup(<SignInChart data={busy} />)).not.toContain("No sign-ins");
  });
});
