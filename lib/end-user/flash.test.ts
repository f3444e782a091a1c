import { afterEach, describe, expect, it, vi } from "vitest";
import { flashParam, readFlash } from "./flash";

// A page repeats only a refusal our own action sealed into its link, not text a link from elsewhere carries.
afterEach(() => vi.useRealTimers());

describe("flash messages in a URL", () => {
  it("reads what an action sealed, and nothing else: plain text, an altered seal or an expired one is null", () => {
    const sealed = flashParam("This app is not connected.");
    expect(readFlash(sealed)).toBe("This app is not connected.");
    expect(readFlash("Your account is locked: call +1-555-0100")).toBeNull();
    expect(readFlash(`${sealed.slice(0, -2)}xx`)).toBeNull();
    expect(readFlash(undefined)).toBeNull();
    vi.useFakeTimers({ toFake: ["Date"], now: Date.now() + 11 * 60_000 });
    expect(readFlash(sealed)).toBeNull();
  });
});
