import { describe, expect, it } from "vitest";
import { getSql } from "@/db/client";
import { clientErrorOf } from "./db-errors";

// A value Postgres refuses is the client's (a 400 with the reason), whatever data exception it is.

const refusal = (query: string) =>
  getSql()
    .unsafe(query)
    .then(
      () => {
        throw new Error(`${query} was accepted`);
      },
      (error: unknown) => clientErrorOf(error),
    );

describe("Postgres's data exceptions", () => {
  it("are 400s: the known ones with their message, any other of class 22 with Postgres's", async () => {
    expect(await refusal("select 'x'::uuid")).toMatchObject({ status: 400, message: "A value has the wrong format." });
    // 22009, which a SCIM date filter with a five-digit year once reached as a 500.
    expect(await refusal("select '+099999-01-01T00:00:00.000Z'::timestamptz")).toMatchObject({ status: 400, message: expect.stringMatching(/^A value is not valid \(time zone displacement out of range/) });
    expect(await refusal("select 1/0")).toMatchObject({ status: 400, message: "A value is not valid (division by zero)." });
    // Not a data exception: ours to fix, a 500.
    expect(await refusal("select * from no_such_table")).toBeUndefined();
  });
});
