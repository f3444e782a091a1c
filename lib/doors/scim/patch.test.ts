import { describe, expect, it } from "vitest";
import { ScimError } from "./errors";
import { applyPatch } from "./patch";

const base = () => ({
  userName: "a@x.example",
  name: { givenName: "A", familyName: "X" },
  emails: [
    { value: "a@x.example", type: "work", primary: true },
    { value: "a@home.example", type: "home" },
  ],
  members: [{ value: "1" }, { value: "2" }],
});
const patch = (...Operations: unknown[]) => ({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations });

describe("SCIM PATCH", () => {
  it("replaces and adds with paths, sub-attributes and value filters, op names in any case", () => {
    const out = applyPatch(
      base(),
      patch(
        { op: "Replace", path: "userName", value: "b@x.example" },
        { op: "replace", path: "name.givenName", value: "B" },
        { op: "ADD", path: 'emails[type eq "home"].value', value: "b@home.example" },
        { op: "add", path: 'emails[type eq "other"].value', value: "b@other.example" },
      ),
    );
    expect(out.userName).toBe("b@x.example");
    expect(out.name).toEqual({ givenName: "B", familyName: "X" });
    expect(out.emails).toEqual([
      { value: "a@x.example", type: "work", primary: true },
      { value: "b@home.example", type: "home" },
      { type: "other", value: "b@other.example" },
    ]);
  });

  it("applies a path-less value object, with Entra's dotted keys", () => {
    const out = applyPatch(base(), patch({ op: "replace", value: { "name.familyName": "Y", title: "Lead", active: false } }));
    expect(out).toMatchObject({ name: { givenName: "A", familyName: "Y" }, title: "Lead", active: false });
  });

  it("removes: one value by filter, listed values, or the whole attribute", () => {
    expect(applyPatch(base(), patch({ op: "remove", path: 'members[value eq "1"]' })).members).toEqual([{ value: "2" }]);
    expect(applyPatch(base(), patch({ op: "remove", path: "members", value: [{ value: "2" }] })).members).toEqual([{ value: "1" }]);
    expect(applyPatch(base(), patch({ op: "remove", path: "members" }))).not.toHaveProperty("members");
    expect(applyPatch(base(), patch({ op: "remove", path: "name.givenName" })).name).toEqual({ familyName: "X" });
  });

  it("adds members without duplicating the ones already there", () => {
    expect(applyPatch(base(), patch({ op: "add", path: "members", value: [{ value: "2" }, { value: "3" }] })).members).toEqual([{ value: "1" }, { value: "2" }, { value: "3" }]);
  });

  it("refuses malformed operations with the SCIM type and the reason, and leaves the input untouched", () => {
    const input = base();
    const cases: [unknown, string, RegExp][] = [
      [{}, "invalidSyntax", /non-empty Operations array/],
      [patch({ op: "move", path: "userName" }), "invalidSyntax", /"move" is not add, replace or remove/],
      [patch({ op: "remove" }), "noTarget", /remove needs a path/],
      [patch({ op: "replace", path: "emails[type eq]", value: "x" }), "invalidPath", /is not valid/],
      [patch({ op: "replace", path: 'emails[type eq "fax"]', value: { value: "x" } }), "noTarget", /no value of emails matches the filter/],
      [patch({ op: "add", value: "just a string" }), "invalidValue", /must be an object of attributes/],
    ];
    for (const [body, scimType, reason] of cases) {
      const error = (() => {
        try {
          applyPatch(input, body);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ScimError);
      expect((error as ScimError).scimType).toBe(scimType);
      expect((error as ScimError).message).toMatch(reason);
    }
    expect(input).toEqual(base());
  });
  it("refuses attribute names that reach a prototype (__proto__, constructor, prototype) in every shape, and leaves Object.prototype alone", () => {
    const bodies = [
      '{"Operations":[{"op":"add","value":{"__proto__":{"polluted":"yes"}}}]}',
      '{"Operations":[{"op":"add","path":"name","value":{"__proto__":{"polluted":"yes"}}}]}',
      '{"Operations":[{"op":"add","value":{"name":{"constructor":{"prototype":{"polluted":"yes"}}}}}]}',
      '{"Operations":[{"op":"add","value":{"\\u005f_proto__":{"polluted":"yes"}}}]}',
    ];
    for (const text of bodies) {
      const error = (() => {
        try {
          applyPatch(base(), JSON.parse(text));
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ScimError);
      expect((error as ScimError).message).toMatch(/^"(__proto__|constructor)" is not an attribute name\.$/);
      expect((error as ScimError).scimType).toBe("invalidValue");
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    }
  });
});
