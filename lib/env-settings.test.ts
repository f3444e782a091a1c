import { afterEach, describe, expect, it } from "vitest";
import { env, rereadEnv } from "@/env";

// Settings are read and checked in env.ts: a bad value stops the start and names the variable.
const saved = { ...process.env };
afterEach(() => {
  for (const key of ["SCIM_RATE_LIMIT_PER_MINUTE", "SCIM_BATCH_WRITERS", "SCIM_SECOND_WRITER_AT"]) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
  rereadEnv();
});

function startWith(settings: Record<string, string>) {
  Object.assign(process.env, settings);
  rereadEnv();
  return env;
}

describe("SCIM settings", () => {
  it("defaults: 30,000 requests a minute, two batch writers, the second at 4 waiting", () => {
    const e = startWith({})();
    expect([e.SCIM_RATE_LIMIT_PER_MINUTE, e.SCIM_BATCH_WRITERS, e.SCIM_SECOND_WRITER_AT]).toEqual([30_000, 2, 4]);
  });

  it("reads a set rate limit", () => {
    expect(startWith({ SCIM_RATE_LIMIT_PER_MINUTE: "120" })().SCIM_RATE_LIMIT_PER_MINUTE).toBe(120);
  });

  it.each([
    ["SCIM_RATE_LIMIT_PER_MINUTE", "0", /SCIM_RATE_LIMIT_PER_MINUTE: Too small: expected number to be >=1/],
    ["SCIM_RATE_LIMIT_PER_MINUTE", "lots", /SCIM_RATE_LIMIT_PER_MINUTE: Invalid input: expected number, received NaN/],
    ["SCIM_RATE_LIMIT_PER_MINUTE", "2.5", /SCIM_RATE_LIMIT_PER_MINUTE: Invalid input: expected int, received number/],
    ["SCIM_BATCH_WRITERS", "0", /SCIM_BATCH_WRITERS: Too small: expected number to be >=1/],
    ["SCIM_SECOND_WRITER_AT", "65", /SCIM_SECOND_WRITER_AT: Too big: expected number to be <=64/],
  ])("refuses %s=%s with the variable's name", (name, value, reason) => {
    expect(startWith({ [name]: value })).toThrow(reason);
  });
});
