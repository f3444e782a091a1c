import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { directoryUsers } from "@/db/schema";
import { recordset, tableRows, arrayLiteral } from "./records";

// Values that an array literal or a JSON document could get wrong.
const awkward = ['plain', 'with "quotes"', "back\\slash", "comma, and {braces}", " spaced ", "NULL", "", "ünïcødé ✓", "new\nline", 'ends with \\'];

describe("set-based statements with one parameter", () => {
  it("passes every value through an array literal unchanged, in order", async () => {
    const rows = await getDb().execute<{ v: string; n: string }>(sql`select v, n from unnest(${arrayLiteral(awkward)}::text[]) with ordinality as t(v, n)`);
    expect(rows.map((r) => r.v)).toEqual(awkward);
  });

  it("reads rows back from one jsonb parameter with their types; missing and null fields are SQL null", async () => {
    const rows = await getDb().execute<{ name: string; count: number; flag: boolean; doc: unknown; missing: string | null }>(
      sql`select * from ${recordset([...awkward.map((name, count) => ({ name, count, flag: count % 2 === 0, doc: { name } })), { name: "last", doc: null }], "name text, count int, flag boolean, doc jsonb, missing text")}`,
    );
    expect(rows.slice(0, awkward.length).map((r) => [r.name, r.count, r.flag, r.doc, r.missing])).toEqual(awkward.map((name, count) => [name, count, count % 2 === 0, { name }, null]));
    expect(rows.at(-1)).toEqual({ name: "last", count: null, flag: null, doc: null, missing: null });
  });

  it("stores a lone UTF-16 surrogate (a string cut inside an emoji) as U+FFFD, in text and jsonb, values and keys, as a text parameter would", async () => {
    const cut = "Zoë 😀".slice(0, -1);
    const [row] = await getDb().execute<{ name: string; doc: Record<string, unknown> }>(
      sql`select * from ${recordset([{ name: cut, doc: { label: cut, list: [cut], [cut]: 1 } }], "name text, doc jsonb")}`,
    );
    expect(row).toEqual({ name: "Zoë \uFFFD", doc: { label: "Zoë \uFFFD", list: ["Zoë \uFFFD"], ["Zoë \uFFFD"]: 1 } });
    // A backslash the text really contains, followed by what looks like an escape, is kept as it is.
    const [plain] = await getDb().execute<{ name: string }>(sql`select * from ${recordset([{ name: "C:\\ud800" }], "name text")}`);
    expect(plain!.name).toBe("C:\\ud800");
  });

  it("stores NUL (U+0000), which jsonb refuses, as U+FFFD in values and keys: one such value does not fail a batch of rows", async () => {
    const rows = [{ doc: { error: "No user \u0000 in this directory.", ["k\u0000"]: ["\u0000"] } }, { doc: { path: "/Users" } }];
    const stored = await getDb().execute<{ doc: Record<string, unknown> }>(sql`select * from ${recordset(rows, "doc jsonb")}`);
    expect(stored.map((r) => r.doc)).toEqual([{ error: "No user \uFFFD in this directory.", ["k\uFFFD"]: ["\uFFFD"] }, { path: "/Users" }]);
    // The text a backslash really starts is kept as it is.
    const [plain] = await getDb().execute<{ doc: { v: string } }>(sql`select * from ${recordset([{ doc: { v: "C:\\u0000" } }], "doc jsonb")}`);
    expect(plain!.doc.v).toBe("C:\\u0000");
  });

  it("maps a raw statement's rows to the table's rows, and says which column a statement did not return", () => {
    const [row] = tableRows(directoryUsers, [
      { directory_id: "d", user_id: "u", user_name: "n", external_id: null, active: true, resource: { a: 1 }, version: 2, created_at: "2026-12-04 22:40:01.123456+00", updated_at: "2026-12-04 22:40:02+00" },
    ]);
    expect(row).toEqual({ directoryId: "d", userId: "u", userName: "n", externalId: null, active: true, resource: { a: 1 }, version: 2, createdAt: new Date("2026-12-04T22:40:01.123Z"), updatedAt: new Date("2026-12-04T22:40:02Z") });
    expect(() => tableRows(directoryUsers, [{ directory_id: "d" }])).toThrow("The statement did not return user_id.");
  });
});
