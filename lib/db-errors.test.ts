import { describe, expect, it } from "vitest";
import { getSql } from "@/db/client";
import { clientErrorOf } from "./db-errors";

// A value Postgres refuses is the client's (a 400 with the reason); an error of our own SQL is not.

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
  it("are 400s where a client's value is refused, and stay ours (a 500) otherwise", async () => {
    expect(await refusal("select 'x'::uuid")).toMatchObject({ status: 400, message: "A value has the wrong format." });
    // 22009, which a SCIM date filter with a five-digit year once reached as a 500.
    expect(await refusal("select '+099999-01-01T00:00:00.000Z'::timestamptz")).toMatchObject({ status: 400, message: "A date or time is out of range." });
    // A division by zero is a bug of our SQL, not a value a client sent.
    expect(await refusal("select 1/0")).toBeUndefined();
    expect(await refusal("select * from no_such_table")).toBeUndefined();
  });
});

describe("a change that met another one at the same time", () => {
  it("is a 409 with what to do (a serialization failure or a deadlock), not a 500", async () => {
    for (const code of ["40001", "40P01"]) {
      expect(await refusal(`do $$ begin raise exception 'met another change' using errcode = '${code}'; end $$`)).toMatchObject({
        status: 409,
        message: "Someone else changed the same records at the same time; nothing was saved: try again.",
      });
    }
  });
});
