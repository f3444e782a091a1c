import { describe, expect, it } from "vitest";
import { formLevelError } from "./form-state";

describe("the end users' form errors", () => {
  it("says a field's reason once, beside the field, and keeps a message no field shows", () => {
    const common = "This password is too common: it appears in lists attackers try first.";
    expect(formLevelError({ error: common, fieldErrors: { password: [common] } })).toBeNull();
    expect(formLevelError({ error: "This link was already used or has expired." })).toBe("This link was already used or has expired.");
    expect(formLevelError({ error: "Check the fields below.", fieldErrors: { confirm: ["The passwords differ."] } })).toBe("Check the fields below.");
    expect(formLevelError(null)).toBeNull();
  });
});
