import { describe, expect, it } from "vitest";
import { FilterError, parseFilter } from "./filter";

const p = (attr: string, sub: string | null = null, schema: string | null = null) => ({ schema, attr, sub });

describe("SCIM filter grammar (RFC 7644 §3.4.2.2)", () => {
  it("parses every comparison operator and presence, case-insensitively", () => {
    for (const op of ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]) {
      expect(parseFilter(`userName ${op.toUpperCase()} "x"`)).toEqual({ type: "compare", path: p("username"), op, value: "x" });
    }
    expect(parseFilter("title pr")).toEqual({ type: "present", path: p("title") });
  });

  it("reads values: strings with JSON escapes, numbers, booleans, null", () => {
    expect(parseFilter('displayName eq "Bob \\"The\\" O\'Brien \\u00e9"')).toMatchObject({ value: 'Bob "The" O\'Brien é' });
    expect(parseFilter("x.y gt 42.5")).toMatchObject({ path: p("x", "y"), value: 42.5 });
    expect(parseFilter("active eq TRUE")).toMatchObject({ value: true });
    expect(parseFilter("manager eq null")).toMatchObject({ value: null });
  });

  it("gives not > and > or precedence, with parentheses", () => {
    expect(parseFilter('a eq "1" or b eq "2" and c eq "3"')).toEqual({
      type: "or",
      left: { type: "compare", path: p("a"), op: "eq", value: "1" },
      right: { type: "and", left: { type: "compare", path: p("b"), op: "eq", value: "2" }, right: { type: "compare", path: p("c"), op: "eq", value: "3" } },
    });
    expect(parseFilter('(a eq "1" or b eq "2") and not (c pr)')).toEqual({
      type: "and",
      left: { type: "or", left: { type: "compare", path: p("a"), op: "eq", value: "1" }, right: { type: "compare", path: p("b"), op: "eq", value: "2" } },
      right: { type: "not", filter: { type: "present", path: p("c") } },
    });
  });

  it("parses value paths and schema-qualified attributes", () => {
    expect(parseFilter('emails[type eq "work" and value co "@example.com"]')).toEqual({
      type: "valuePath",
      path: p("emails"),
      filter: {
        type: "and",
        left: { type: "compare", path: p("type"), op: "eq", value: "work" },
        right: { type: "compare", path: p("value"), op: "co", value: "@example.com" },
      },
    });
    expect(parseFilter('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "7"')).toMatchObject({
      path: p("employeenumber", null, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"),
    });
    expect(parseFilter('urn:ietf:params:scim:schemas:core:2.0:User:name.familyName eq "X"')).toMatchObject({ path: p("name", "familyname", "urn:ietf:params:scim:schemas:core:2.0:user") });
  });

  it("accepts the unquoted values Entra's test suite sends", () => {
    expect(parseFilter("meta.Created gt 2015-10-10T14:38:21")).toMatchObject({ path: p("meta", "created"), op: "gt", value: "2015-10-10T14:38:21" });
    expect(parseFilter("userName sw O")).toMatchObject({ value: "O" });
  });

  it("refuses what does not parse, saying what and where", () => {
    const cases: [string, RegExp][] = [
      ["", /empty/],
      ['userName eq "x', /Unterminated string starting at position 13/],
      ['userName xx "x"', /"xx" at position 10 is not an operator/],
      ["userName eq", /Expected a value after "eq"/],
      ['(userName eq "x"', /Missing "\)"/],
      ['userName eq "x")', /Unexpected "\)" at position 16/],
      ['emails[type eq "work"', /Missing "\]"/],
      ['not userName eq "x"', /"not" must be followed by a parenthesised filter/],
      ['a.b.c eq "x"', /is not an attribute path/],
      ["userName eq \"x\" or 1=1; drop table users; --", /"1=1;" at position 20 is not an attribute path/],
      ['"userName" eq "x"', /Expected an attribute at position 1/],
      ["(".repeat(40) + 'a eq "x"' + ")".repeat(40), /nests deeper than 32 levels/],
      ["a eq " + '"x"'.padEnd(5000, " "), /longer than 4096 characters/],
    ];
    for (const [filter, reason] of cases) {
      const error = (() => {
        try {
          parseFilter(filter);
        } catch (e) {
          return e;
        }
      })();
      expect(error, filter).toBeInstanceOf(FilterError);
      expect((error as FilterError).message, filter).toMatch(reason);
      expect((error as FilterError).scimType).toBe("invalidFilter");
    }
  });
});
