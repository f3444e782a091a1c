import { beforeAll, describe, expect, it } from "vitest";
import { and, eq, inArray, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, environmentAccess, users, type Environment } from "@/db/schema";
import { countRows, createEnvironments, createVerifiedUser, systemCtx } from "@/test-support/fixtures";
import { createEndUserSession, readEndUserSession } from "@/lib/end-user/sessions";
import { createUser, setUserStatus } from "@/lib/users";
import { rotateDirectoryToken } from "@/lib/directories";
import { scimClient } from "./testing";

let env: { dev: Environment; test: Environment; prod: Environment };
let scim: Awaited<ReturnType<typeof scimClient>>;
beforeAll(async () => {
  env = await createEnvironments();
  scim = await scimClient(env.prod, "Entra PROD");
});

const alice = (userName = "alice@corp.example", extra: Record<string, unknown> = {}) => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  userName,
  externalId: `ext-${userName}`,
  active: true,
  displayName: "Alice Corp",
  name: { givenName: "Alice", familyName: "Corp" },
  emails: [{ value: userName, type: "work", primary: true }],
  ...extra,
});

describe("SCIM users", () => {
  it("creates a user who is our user: environment access from the directory, 201 with Location and ETag", async () => {
    const res = await scim.call("POST", "/Users", alice());
    expect(res.status).toBe(201);
    expect(res.headers.get("content-type")).toContain("application/scim+json");
    expect(res.headers.get("location")).toBe(`${res.body.meta.location}`);
    expect(res.headers.get("etag")).toBe('W/"1"');
    expect(res.body).toMatchObject({ userName: "alice@corp.example", active: true, name: { givenName: "Alice", familyName: "Corp" }, meta: { resourceType: "User", version: 'W/"1"' } });
    const [user] = await getDb().select().from(users).where(eq(users.id, res.body.id));
    expect(user).toMatchObject({ email: "alice@corp.example", name: "Alice Corp", source: "scim", status: "active" });
    const [access] = await getDb().select().from(environmentAccess).where(and(eq(environmentAccess.userId, user!.id), eq(environmentAccess.environmentId, env.prod.id)));
    expect(access).toMatchObject({ source: "scim", directoryId: scim.directory.id });
    const got = await scim.call("GET", `/Users/${res.body.id}`);
    expect(got.body.userName).toBe("alice@corp.example");
    // The grant is audited as the console's and the REST API's are (user.environment.grant), in PROD.
    const [grant] = await getDb().select({ environmentId: auditEvents.environmentId, after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "user.environment.grant"), eq(auditEvents.targetId, res.body.id)));
    expect(grant).toEqual({ environmentId: env.prod.id, after: { environment: "prod", source: "scim", directory: "Entra PROD" } });
  });

  it("links to the existing user with that email instead of creating a second one, when the email is verified", async () => {
    const existing = await createVerifiedUser(systemCtx, { name: "Manual Person", email: "manual@corp.example", environmentIds: [env.dev.id] });
    const res = await scim.call("POST", "/Users", alice("manual@corp.example"));
    expect(res.status).toBe(201);
    expect(res.body.id).toBe(existing.id);
  });

  it("refuses to link a user no environment holds (account-wide), writing nothing: the directory's environment would take the account over", async () => {
    await createVerifiedUser(systemCtx, { name: "Account wide", email: "account-wide@corp.example", environmentIds: [] });
    const before = { users: await countRows("users"), held: await countRows("directory_users"), access: await countRows("environment_access") };
    const res = await scim.call("POST", "/Users", alice("account-wide@corp.example"));
    expect([res.status, res.body.scimType, res.body.detail]).toEqual([409, "uniqueness", "A user with the email account-wide@corp.example exists and can enter no environment (an account-wide user): an owner or admin grants them this environment, then the directory links them."]);
    expect({ users: await countRows("users"), held: await countRows("directory_users"), access: await countRows("environment_access") }).toEqual(before);
    // A user a directory deprovisioned (deleted, no environment left) is not account-wide: created again, it comes back (Microsoft's collection does this).
    const first = await scim.call("POST", "/Users", alice("again@corp.example"));
    expect((await scim.call("DELETE", `/Users/${first.body.id}`)).status).toBe(204);
    const again = await scim.call("POST", "/Users", alice("again@corp.example"));
    expect([again.status, again.body.id, again.body.active]).toEqual([201, first.body.id, true]);
  });

  it("refuses to link a user whose email is not verified (409 with the reason), writing nothing", async () => {
    const existing = await createUser(systemCtx, { name: "Unproven", email: "unproven@corp.example", environmentIds: [env.dev.id] });
    const before = { users: await countRows("users"), held: await countRows("directory_users"), access: await countRows("environment_access") };
    const res = await scim.call("POST", "/Users", alice("unproven@corp.example"));
    expect(res.status).toBe(409);
    expect(res.body.detail).toMatch(/unproven@corp\.example exists, but that address is not verified/);
    expect({ users: await countRows("users"), held: await countRows("directory_users"), access: await countRows("environment_access") }).toEqual(before);
    const [user] = await getDb().select().from(users).where(eq(users.id, existing.id));
    expect(user!.status).toBe("active");
  });

  it("refuses a second user with the same userName (any case) with 409 uniqueness, and 20 concurrent identical POSTs make one user", async () => {
    const dup = await scim.call("POST", "/Users", alice("ALICE@corp.example"));
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ scimType: "uniqueness", status: "409" });
    expect(dup.body.detail).toMatch(/already exists in this directory/);
    const before = await countRows("users");
    const results = await Promise.all(Array.from({ length: 20 }, () => scim.call("POST", "/Users", alice("burst@corp.example"))));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 409)).toHaveLength(19);
    expect(await countRows("users")).toBe(before + 1);
  });

  it("two concurrent creates naming the same existing user's email answer as one after the other would, never a 500", async () => {
    // Creates written one by one (a directory with few clients writes lone creates side by side).
    for (let i = 0; i < 12; i++) expect((await scim.call("POST", "/Users", alice(`warm${i}.link@corp.example`))).status).toBe(201);
    const email = "linked.twice@corp.example";
    const existing = await createVerifiedUser(systemCtx, { name: "Sam Linked", email, environmentIds: [env.prod.id] });
    const results = await Promise.all(["a", "b"].map((n) => scim.call("POST", "/Users", { ...alice(`${n}-link`), emails: [{ value: email, primary: true }] })));
    // As one after the other: the first links the user, the second (its email now held) is a user of its own.
    expect(results.map((r) => r.status)).toEqual([201, 201]);
    expect(results.filter((r) => r.body.id === existing.id)).toHaveLength(1);
  });

  it("writes concurrent creates together (group commit), each its own user, shared emails included", async () => {
    const before = await countRows("users");
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => scim.call("POST", "/Users", { userName: `batch${i}`, emails: [{ value: "shared@corp.example", primary: true }], displayName: `Batch ${i}` })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(30).fill(201));
    expect(new Set(results.map((r) => r.body.id)).size).toBe(30);
    expect(await countRows("users")).toBe(before + 30);
    const emails = await getDb().select({ email: users.email }).from(users).where(inArray(users.id, results.map((r) => r.body.id)));
    expect(emails.filter((e) => e.email === "shared@corp.example")).toHaveLength(1);
    const audited = await getDb().select().from(auditEvents).where(and(eq(auditEvents.action, "user.create"), inArray(auditEvents.targetId, results.map((r) => r.body.id))));
    expect(audited).toHaveLength(30);
    expect(new Set(audited.map((a) => a.requestId)).size).toBe(30);
  });

  it("refuses bad input with the SCIM error and the reason, writing nothing", async () => {
    const before = await countRows("users");
    const cases: [string, unknown, string | undefined, number, string | undefined, RegExp][] = [
      ["missing userName", { ...alice(), userName: undefined }, undefined, 400, "invalidValue", /userName is required/],
      ["malformed JSON", undefined, "{ not json", 400, "invalidSyntax", /not valid JSON/],
      ["wrong type", alice("typed@corp.example", { active: "maybe" }), undefined, 400, "invalidValue", /active must be a boolean/],
    ];
    for (const [label, body, raw, status, scimType, detail] of cases) {
      const res = await scim.call("POST", "/Users", body, { raw });
      expect(res.status, label).toBe(status);
      expect(res.body.scimType, label).toBe(scimType);
      expect(res.body.detail, label).toMatch(detail);
    }
    const huge = await scim.call("POST", "/Users", undefined, { raw: JSON.stringify(alice("huge@corp.example", { title: "x".repeat(1_100_000) })) });
    expect(huge.status).toBe(413);
    const notJson = await scim.call("POST", "/Users", alice("x@corp.example"), { headers: { "content-type": "text/plain" } });
    expect(notJson.status).toBe(415);
    expect(await countRows("users")).toBe(before);
  });

  it("creates a user whose display name is cut inside an emoji (the half character becomes U+FFFD), audited", async () => {
    const res = await scim.call("POST", "/Users", { userName: "emoji-cut@corp.example", displayName: `${"D".repeat(199)}😀`, emails: [{ value: "emoji-cut@corp.example", primary: true }] });
    expect(res.status).toBe(201);
    const [user] = await getDb().select({ name: users.name }).from(users).where(eq(users.id, res.body.id));
    expect(user!.name).toBe(`${"D".repeat(199)}\uFFFD`);
    const [audit] = await getDb().select({ after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "user.create"), eq(auditEvents.targetId, res.body.id)));
    expect((audit!.after as { name: string }).name).toBe(`${"D".repeat(199)}\uFFFD`);
  });

  it("replaces a user with lone surrogates in its values (U+FFFD stored, not a 500), through drizzle's own jsonb writes too", async () => {
    const created = await scim.call("POST", "/Users", { userName: "lone@corp.example", emails: [{ value: "lone@corp.example", primary: true }] });
    const res = await scim.call("PUT", `/Users/${created.body.id}`, { userName: "lone@corp.example", displayName: "Lone \ud800", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { department: "R&D \udc00" } });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe("Lone \uFFFD");
    const [user] = await getDb().select({ name: users.name }).from(users).where(eq(users.id, created.body.id));
    expect(user!.name).toBe("Lone \uFFFD");
    const again = await scim.call("GET", `/Users/${created.body.id}`);
    expect([again.body.displayName, again.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"].department]).toEqual(["Lone \uFFFD", "R&D \uFFFD"]);
  });

  it("ignores read-only attributes, accepts \"True\", and keeps the enterprise extension", async () => {
    const res = await scim.call("POST", "/Users", {
      ...alice("extended@corp.example"),
      id: "chosen-by-client",
      meta: { created: "2001-01-01T00:00:00Z" },
      active: "True",
      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": { employeeNumber: "42", department: "R&D", manager: { value: "m1" } },
    });
    expect(res.status).toBe(201);
    expect(res.body.id).not.toBe("chosen-by-client");
    expect(res.body.active).toBe(true);
    expect(res.body.schemas).toContain("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User");
    expect(res.body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"]).toEqual({ employeeNumber: "42", department: "R&D", manager: { value: "m1" } });
  });

  it("filters in SQL with the full grammar and refuses what does not parse with invalidFilter", async () => {
    await scim.call("POST", "/Users", alice("bob@other.example", { displayName: "Bob Other", emails: [{ value: "bob@other.example", type: "home" }] }));
    const q = async (filter: string) => scim.call("GET", `/Users?filter=${encodeURIComponent(filter)}`);
    expect((await q('userName eq "BOB@other.example"')).body.Resources.map((r: { userName: string }) => r.userName)).toEqual(["bob@other.example"]);
    expect((await q('emails[type eq "home" and value co "other"]')).body.totalResults).toBe(1);
    expect((await q('emails.value ew "@other.example"')).body.totalResults).toBe(1);
    expect((await q('not (userName sw "a") and displayName pr')).body.Resources.every((r: { userName: string }) => !r.userName.startsWith("a"))).toBe(true);
    expect((await q("meta.created gt 2015-10-10T14:38:21")).body.totalResults).toBeGreaterThan(2);
    expect((await q('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"')).body.totalResults).toBe(1);
    for (const [filter, detail] of [
      ["userName eq \"x\" or 1=1", /is not an attribute path|Expected an operator/],
      ["nope eq \"x\"", /Users have no attribute "nope"/],
      ["active gt true", /does not apply to a boolean/],
      // Postgres refused a five-digit year's ISO form (a 500 before); years out of 1–9999 and text that is no xsd:dateTime are refused here.
      ['meta.created gt "99999-01-01"', /^"99999-01-01" is not a date and time \(xsd:dateTime/],
      ['meta.lastModified lt "10000-01-01"', /is not a date and time/],
      ['meta.created gt "-000001-01-01T00:00:00Z"', /is not a date and time/],
      ['meta.created gt "5"', /^"5" is not a date and time/],
      ["userName eq \"x'; drop table users; --\" or userName pr", null],
    ] as const) {
      const res = await q(filter);
      if (detail === null) {
        expect(res.status, filter).toBe(200);
      } else {
        expect(res.status, filter).toBe(400);
        expect(res.body.scimType).toBe("invalidFilter");
        expect(res.body.detail).toMatch(detail);
      }
    }
  });

  it("pages in SQL: startIndex is 1-based and count is clamped", async () => {
    const all = await scim.call("GET", "/Users");
    const page = await scim.call("GET", "/Users?startIndex=2&count=2");
    expect(page.body).toMatchObject({ totalResults: all.body.totalResults, startIndex: 2, itemsPerPage: 2 });
    expect(page.body.Resources.map((r: { id: string }) => r.id)).toEqual(all.body.Resources.slice(1, 3).map((r: { id: string }) => r.id));
    expect((await scim.call("GET", "/Users?count=100000")).body.itemsPerPage).toBe(all.body.totalResults);
    // A startIndex past any list (beyond a bigint even) is an empty page, not a 500.
    for (const startIndex of ["100000000000000000000", "9223372036854775809"]) {
      const far = await scim.call("GET", `/Users?startIndex=${startIndex}`);
      expect([startIndex, far.status, far.body.Resources ?? []]).toEqual([startIndex, 200, []]);
    }
    // Only whole numbers as written: not a blank (which Number() reads as 0), hex, a fraction or an exponent.
    for (const [name, value] of [["count", "%20"], ["startIndex", "0x10"], ["count", "1.5"], ["startIndex", "1e3"], ["count", "ten"]] as const) {
      const refused = await scim.call("GET", `/Users?${name}=${value}`);
      expect([name, value, refused.status, refused.body.scimType, refused.body.detail]).toEqual([name, value, 400, "invalidValue", `${name} must be a whole number, not ${JSON.stringify(decodeURIComponent(value))}.`]);
    }
    const projected = await scim.call("GET", "/Users?attributes=userName&count=1");
    expect(Object.keys(projected.body.Resources[0]).sort()).toEqual(["id", "meta", "schemas", "userName"]);
    // A sub-attribute of a multi-valued attribute: that of each value.
    await scim.call("POST", "/Users", alice("projected@corp.example"));
    const emails = await scim.call("GET", `/Users?attributes=emails.value&filter=${encodeURIComponent('userName eq "projected@corp.example"')}`);
    expect(emails.body.Resources[0].emails).toEqual([{ value: "projected@corp.example" }]);
  });

  it("searches by POST (/.search, RFC 7644 §3.4.3) as a GET lists, and answers 501 for what is not offered (bulk, a search across types)", async () => {
    await scim.call("POST", "/Users", alice("searched@corp.example"));
    const filter = 'userName eq "searched@corp.example"';
    const got = await scim.call("GET", `/Users?filter=${encodeURIComponent(filter)}&attributes=userName,emails.value`);
    const posted = await scim.call("POST", "/Users/.search", { schemas: ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], filter, attributes: ["userName", "emails.value"], startIndex: 1, count: 10, sortBy: "userName" });
    expect(posted.status).toBe(200);
    expect(posted.body).toEqual(got.body);
    expect(posted.body.Resources.map((r: Record<string, unknown>) => Object.keys(r).sort())).toEqual([["emails", "id", "meta", "schemas", "userName"]]);
    const groups = await scim.call("POST", "/Groups/.search", { filter: 'displayName eq "nothing here"' });
    expect([groups.status, groups.body.totalResults]).toEqual([200, 0]);
    for (const [body, detail] of [
      [{ filter: 5 }, "filter must be a string."],
      [{ count: "10" }, 'count must be a whole number, not "10".'],
      [{ attributes: "userName" }, "attributes must be a list of attribute names."],
    ] as const) {
      const refused = await scim.call("POST", "/Users/.search", body);
      expect([refused.status, refused.body.scimType, refused.body.detail]).toEqual([400, "invalidValue", detail]);
    }
    expect((await scim.call("POST", "/Users/.search", { filter: "userName eq" })).body.scimType).toBe("invalidFilter");
    expect((await scim.call("GET", "/Users/.search")).body).toMatchObject({ status: "405", detail: "GET is not allowed on /Users/.search: POST a SearchRequest." });
    for (const path of ["/Bulk", "/.search"]) {
      const unsupported = await scim.call("POST", path, { Operations: [] });
      expect([path, unsupported.status, unsupported.body.detail]).toEqual([path, 501, expect.stringMatching(/not supported \(see \/ServiceProviderConfig\)/)]);
    }
  });

  it("PATCH applies Entra's shapes atomically; If-Match guards with 412", async () => {
    const created = (await scim.call("POST", "/Users", alice("patchme@corp.example"))).body;
    const res = await scim.call("PATCH", `/Users/${created.id}`, {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        { op: "Replace", path: "displayName", value: "Patched Name" },
        { op: "replace", value: { "name.givenName": "Pat", title: "Lead" } },
        { op: "Add", path: 'emails[type eq "home"].value', value: "home@corp.example" },
      ],
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe('W/"2"');
    // The answer is the resource as stored now, so a client can update its state from it.
    expect(res.body).toMatchObject({ id: created.id, displayName: "Patched Name", title: "Lead", meta: { version: 'W/"2"' } });
    const after = (await scim.call("GET", `/Users/${created.id}`)).body;
    expect(after).toMatchObject({ displayName: "Patched Name", title: "Lead", name: { givenName: "Pat", familyName: "Corp" } });
    expect(after.emails).toEqual(expect.arrayContaining([{ type: "home", value: "home@corp.example" }]));
    const [user] = await getDb().select().from(users).where(eq(users.id, created.id));
    expect(user!.name).toBe("Patched Name");
    // A bad operation anywhere leaves everything as it was.
    const bad = await scim.call("PATCH", `/Users/${created.id}`, { Operations: [{ op: "replace", path: "title", value: "Changed" }, { op: "explode", path: "title" }] });
    expect(bad.status).toBe(400);
    expect(bad.body.detail).toMatch(/"explode" is not add, replace or remove/);
    expect((await scim.call("GET", `/Users/${created.id}`)).body.title).toBe("Lead");
    const stale = await scim.call("PUT", `/Users/${created.id}`, alice("patchme@corp.example"), { headers: { "if-match": 'W/"1"' } });
    expect(stale.status).toBe(412);
    const fresh = await scim.call("PUT", `/Users/${created.id}`, alice("patchme@corp.example"), { headers: { "if-match": 'W/"2"' } });
    expect(fresh.status).toBe(200);
  });

  it("PATCH sets the enterprise extension as a whole (no path, or its URN as the path), and refuses a change of a read-only attribute with mutability", async () => {
    const ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
    const created = (await scim.call("POST", "/Users", alice("extension@corp.example", { [ext]: { department: "Eng", costCenter: "7" } }))).body;
    const patch = (...Operations: unknown[]) => scim.call("PATCH", `/Users/${created.id}`, { Operations });
    // Generic clients send the extension as one attribute of a path-less value: it was answered 200 with nothing changed.
    expect((await patch({ op: "replace", value: { [ext]: { department: "Sales" } } })).body[ext]).toEqual({ department: "Sales", costCenter: "7" });
    expect((await patch({ op: "add", path: ext, value: { division: "EMEA" } })).body[ext]).toEqual({ department: "Sales", costCenter: "7", division: "EMEA" });
    expect((await patch({ op: "replace", path: ext.toUpperCase(), value: { department: "Ops" } })).body[ext]).toMatchObject({ department: "Ops" });
    expect((await scim.call("GET", `/Users/${created.id}`)).body[ext]).toEqual({ department: "Ops", costCenter: "7", division: "EMEA" });
    const notObject = await patch({ op: "replace", path: ext, value: "Sales" });
    expect([notObject.status, notObject.body.scimType, notObject.body.detail]).toEqual([400, "invalidValue", `Operation 1: the value for ${ext} must be an object of its attributes.`]);
    expect((await patch({ op: "remove", path: ext })).body[ext]).toBeUndefined();
    // Read-only attributes: refused (they were dropped, answered 200 with a new version), the resource unchanged.
    const version = (await scim.call("GET", `/Users/${created.id}`)).body.meta.version;
    for (const [operation, key] of [
      [{ op: "replace", path: "id", value: "00000000-0000-4000-8000-000000000000" }, "id"],
      [{ op: "replace", path: "meta.version", value: "x" }, "meta"],
      [{ op: "add", path: "groups", value: [{ value: "00000000-0000-4000-8000-000000000000" }] }, "groups"],
      [{ op: "replace", value: { id: "someone-else", displayName: "X" } }, "id"],
    ] as const) {
      const refused = await patch(operation);
      expect([refused.status, refused.body.scimType, refused.body.detail]).toEqual([400, "mutability", `"${key}" is read-only: no client sets it.`]);
    }
    expect((await scim.call("GET", `/Users/${created.id}`)).body.meta.version).toBe(version);
    // Its own id, as some clients echo it, is no change.
    expect((await patch({ op: "replace", value: { id: created.id, schemas: ["x"], displayName: "Echoed" } })).body).toMatchObject({ id: created.id, displayName: "Echoed" });
  });

  it("refuses string values longer than 4,096 characters with invalidValue, writing nothing", async () => {
    const before = await countRows("users");
    for (const [body, where] of [
      [alice("long-external@corp.example", { externalId: "x".repeat(4097) }), "externalId"],
      [alice("long-title@corp.example", { title: "t".repeat(900_000) }), "title"],
      [alice("long-email@corp.example", { emails: [{ value: "long-email@corp.example", display: "d".repeat(5000) }] }), "emails[0].display"],
    ] as const) {
      const res = await scim.call("POST", "/Users", body);
      expect([where, res.status, res.body.scimType, res.body.detail]).toEqual([where, 400, "invalidValue", `${where} is longer than 4,096 characters.`]);
    }
    expect(await countRows("users")).toBe(before);
    // On what arrives only: a user stored with a longer value before the cap can still be patched (deactivated).
    const stored = (await scim.call("POST", "/Users", alice("long-stored@corp.example"))).body;
    await getDb().execute(sql`update directory_users set resource = jsonb_set(resource, '{title}', to_jsonb(repeat('t', 5000))) where user_id = ${stored.id}`);
    const deactivated = await scim.call("PATCH", `/Users/${stored.id}`, { Operations: [{ op: "replace", path: "active", value: false }] });
    expect([deactivated.status, deactivated.body.active, deactivated.body.title.length]).toEqual([200, false, 5000]);
    const patchTooLong = await scim.call("PATCH", `/Users/${stored.id}`, { Operations: [{ op: "replace", path: "title", value: "x".repeat(4097) }] });
    expect([patchTooLong.status, patchTooLong.body.detail]).toEqual([400, "Operations[0].value is longer than 4,096 characters."]);
    // An id echoed in another case is its own.
    expect((await scim.call("PATCH", `/Users/${stored.id}`, { Operations: [{ op: "replace", value: { id: stored.id.toUpperCase(), displayName: "Upper" } }] })).status).toBe(200);
  });

  it("PATCH refuses a __proto__ attribute (400 invalidValue) for users and groups: nothing of the process's objects changes, nor the resource", async () => {
    const created = (await scim.call("POST", "/Users", alice("proto@corp.example"))).body;
    const group = (await scim.call("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Proto group" })).body;
    const cases: [string, string][] = [
      [`/Users/${created.id}`, '{"Operations":[{"op":"add","value":{"__proto__":{"denied":true}}}]}'],
      [`/Users/${created.id}`, '{"Operations":[{"op":"add","path":"name","value":{"__proto__":{"denied":true}}}]}'],
      [`/Groups/${group.id}`, '{"Operations":[{"op":"add","value":{"__proto__":{"denied":true}}}]}'],
    ];
    for (const [path, raw] of cases) {
      const res = await scim.call("PATCH", path, undefined, { raw });
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ scimType: "invalidValue", detail: '"__proto__" is not an attribute name.' });
      expect(({} as Record<string, unknown>).denied).toBeUndefined();
    }
    expect((await scim.call("GET", `/Users/${created.id}`)).body.meta.version).toBe(created.meta.version);
  });

  it("active:false and DELETE deprovision: the environment is revoked, sessions end, the user is deprovisioned (not suspended) when nothing remains", async () => {
    const created = (await scim.call("POST", "/Users", alice("leaver@corp.example"))).body;
    const { token } = await createEndUserSession(getDb(), { userId: created.id, environmentId: env.prod.id, method: "sso" });
    expect(await readEndUserSession("prod", token)).not.toBeNull();
    const off = await scim.call("PATCH", `/Users/${created.id}`, { Operations: [{ op: "replace", path: "active", value: "False" }] });
    expect([off.status, off.body.active]).toEqual([200, false]);
    expect(await readEndUserSession("prod", token)).toBeNull();
    let [user] = await getDb().select().from(users).where(eq(users.id, created.id));
    expect(user!.status).toBe("deprovisioned");
    await scim.call("PATCH", `/Users/${created.id}`, { Operations: [{ op: "replace", value: { active: true } }] });
    [user] = await getDb().select().from(users).where(eq(users.id, created.id));
    expect(user!.status).toBe("active");
    expect((await scim.call("DELETE", `/Users/${created.id}`)).status).toBe(204);
    expect((await scim.call("GET", `/Users/${created.id}`)).status).toBe(404);
    [user] = await getDb().select().from(users).where(eq(users.id, created.id));
    expect(user!.status).toBe("deprovisioned");
  });

  it("cannot lift an admin's suspension: reactivation answers 403 with the reason, and the user is shown inactive", async () => {
    const created = (await scim.call("POST", "/Users", alice("suspect@corp.example"))).body;
    await setUserStatus(systemCtx, created.id, "suspended");
    // Re-sent state: the directory still says active; the answer is truthful.
    expect((await scim.call("GET", `/Users/${created.id}`)).body.active).toBe(false);
    await scim.call("PATCH", `/Users/${created.id}`, { Operations: [{ op: "replace", path: "active", value: false }] });
    const again = await scim.call("PATCH", `/Users/${created.id}`, { Operations: [{ op: "replace", path: "active", value: true }] });
    expect(again.status).toBe(403);
    expect(again.body.detail).toMatch(/suspended by an administrator; a directory cannot reactivate/);
    const [user] = await getDb().select().from(users).where(eq(users.id, created.id));
    expect(user!.status).toBe("suspended");
    const access = await getDb().select().from(environmentAccess).where(eq(environmentAccess.userId, created.id));
    expect(access).toEqual([]);
  });

  it("keeps a user with other environments active when one directory deprovisions them", async () => {
    const person = await createVerifiedUser(systemCtx, { name: "Two Envs", email: "two@corp.example", environmentIds: [env.dev.id] });
    const created = (await scim.call("POST", "/Users", alice("two@corp.example"))).body;
    expect(created.id).toBe(person.id);
    await scim.call("DELETE", `/Users/${created.id}`);
    const [user] = await getDb().select().from(users).where(eq(users.id, person.id));
    expect(user!.status).toBe("active");
  });

  it("answers 401 without or with a wrong token, 404 for another directory's token, and stops a rotated token at once", async () => {
    const none = await scim.call("GET", "/Users", undefined, { token: null });
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    expect((await scim.call("GET", "/Users", undefined, { token: "scim_wrong" })).status).toBe(401);
    const other = await scimClient(env.dev, "Other");
    const cross = await other.call("GET", "/Users", undefined, { directoryId: scim.directory.id });
    expect(cross.status).toBe(404);
    const someone = (await scim.call("POST", "/Users", alice("cross@corp.example"))).body;
    expect((await other.call("GET", `/Users/${someone.id}`)).status).toBe(404);
    const { token } = await rotateDirectoryToken(systemCtx, other.directory.id);
    expect((await other.call("GET", "/Users")).status).toBe(401);
    expect((await other.call("GET", "/Users", undefined, { token })).status).toBe(200);
  });

  it("serves ServiceProviderConfig, ResourceTypes and Schemas", async () => {
    expect((await scim.call("GET", "/ServiceProviderConfig")).body).toMatchObject({ patch: { supported: true }, etag: { supported: true }, filter: { supported: true } });
    expect((await scim.call("GET", "/serviceConfiguration")).status).toBe(200);
    expect((await scim.call("GET", "/ResourceTypes")).body.Resources[0].endpoint).toBe("/Users");
    const schemas = await scim.call("GET", "/Schemas");
    expect(JSON.stringify(schemas.body)).toContain("User Account");
    expect((await scim.call("GET", "/users")).status).toBe(200);
  });
});
