import { beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { getDb, getSql } from "@/db/client";
import { auditEvents, groupMembers, groups, type Environment } from "@/db/schema";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { addMembers, createGroup, deleteGroup, updateGroup } from "@/lib/groups";
import { scimClient } from "./testing";

let env: { dev: Environment; test: Environment; prod: Environment };
let scim: Awaited<ReturnType<typeof scimClient>>;
const ids: string[] = [];
beforeAll(async () => {
  env = await createEnvironments();
  scim = await scimClient(env.test, "Okta TEST");
  for (const n of ["ann", "ben", "cat", "dan"]) {
    ids.push((await scim.call("POST", "/Users", { userName: `${n}@corp.example`, displayName: n })).body.id);
  }
});

const memberIds = (body: { members?: { value: string }[] }) => (body.members ?? []).map((m) => m.value).sort();

describe("SCIM groups", () => {
  it("a synced group's name and existence are its directory's (an IdP's group's, its sign-ins'): admins are refused with the reason, every door", async () => {
    const synced = await scim.call("POST", "/Groups", { displayName: "Synced names", members: [{ value: ids[0] }] });
    const made = await createGroup(systemCtx, { environmentId: env.test.id, name: "idp-admins" }, "saml");
    const before = await countRows("groups");
    // The console and REST both call these (lib/doors/rest/v1.ts, app/console/[env]/users/actions.ts).
    await expect(updateGroup(systemCtx, synced.body.id, { name: "Renamed" })).rejects.toThrowError("Synced names is kept in sync by a directory (SCIM), which owns its name and members: rename it in the directory.");
    await expect(deleteGroup(systemCtx, synced.body.id)).rejects.toThrowError("Synced names is kept in sync by a directory (SCIM), which owns its name and members: delete it in the directory.");
    await expect(updateGroup(systemCtx, made.id, { name: "admins" })).rejects.toThrowError("idp-admins was made by IdP sign-ins from their groups attribute, which finds it by name: renamed, the next sign-in would make it again. Change the groups the IdP sends instead.");
    await expect(deleteGroup(systemCtx, made.id)).rejects.toThrowError(/^idp-admins was made by IdP sign-ins .*deleted, the next sign-in would make it again/);
    expect(await countRows("groups")).toBe(before);
    // A description is no one else's: it may change.
    expect((await updateGroup(systemCtx, synced.body.id, { description: "From Okta" })).description).toBe("From Okta");
    // The directory keeps working on it, with names up to the one limit every door shares.
    const patched = await scim.call("PATCH", `/Groups/${synced.body.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", value: { displayName: "n".repeat(120) } }] });
    expect([patched.status, patched.body.displayName]).toEqual([200, "n".repeat(120)]);
    // Audited as an admin's rename is.
    const [renamed] = await getDb().select({ action: auditEvents.action }).from(auditEvents).where(and(eq(auditEvents.targetId, synced.body.id), eq(auditEvents.targetLabel, "n".repeat(120))));
    expect(renamed).toEqual({ action: "group.rename" });
    const memberRows = await getDb().select({ action: auditEvents.action }).from(auditEvents).where(eq(auditEvents.targetId, synced.body.id));
    expect(memberRows.map((r) => r.action)).toContain("group.members.add");
    const tooLong = await scim.call("PATCH", `/Groups/${synced.body.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", value: { displayName: "n".repeat(121) } }] });
    expect([tooLong.status, tooLong.body.detail]).toEqual([400, "displayName is longer than 120 characters."]);
  });

  it("creates a group of the environment with members owned by the directory", async () => {
    const res = await scim.call("POST", "/Groups", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineers", externalId: "okta-eng", members: [{ value: ids[0] }, { value: ids[1] }] });
    expect(res.status).toBe(201);
    expect(res.body).toMatchObject({ displayName: "Engineers", externalId: "okta-eng", meta: { resourceType: "Group", version: 'W/"1"' } });
    expect(memberIds(res.body)).toEqual([ids[0], ids[1]].sort());
    const [group] = await getDb().select().from(groups).where(eq(groups.id, res.body.id));
    expect(group).toMatchObject({ environmentId: env.test.id, source: "scim", directoryId: scim.directory.id, memberCount: 2 });
    const dup = await scim.call("POST", "/Groups", { displayName: "engineers" });
    expect(dup.status).toBe(409);
    expect(dup.body).toMatchObject({ scimType: "uniqueness" });
  });

  it("refuses members that are no id (400 invalidValue, nothing written), takes bare ids, and a rename that echoes the group's own id (Okta's shape) but not another", async () => {
    const count = async () => (await getDb().select().from(groups).where(eq(groups.environmentId, env.test.id))).length;
    const before = await count();
    for (const [members, index] of [
      [[{ value: { x: 1 } }], 0],
      [[{ value: ids[0] }, null], 1],
      [[5], 0],
      [[{ value: ids[0] }, true], 1],
      [[["nested"]], 0],
      [[{ display: "no value" }], 0],
    ] as const) {
      const res = await scim.call("POST", "/Groups", { displayName: `Odd ${index}`, members });
      expect([JSON.stringify(members), res.status, res.body.scimType, res.body.detail]).toEqual([JSON.stringify(members), 400, "invalidValue", `members[${index}] must be an object with a string "value" (the user's id), or the id itself.`]);
    }
    expect(await count()).toBe(before);
    const bare = await scim.call("POST", "/Groups", { displayName: "Bare ids", members: [ids[2]] });
    expect([bare.status, memberIds(bare.body)]).toEqual([201, [ids[2]]]);
    const rename = await scim.call("PATCH", `/Groups/${bare.body.id}`, { Operations: [{ op: "replace", value: { id: bare.body.id, displayName: "Bare ids renamed" } }] });
    expect([rename.status, rename.body.displayName]).toEqual([200, "Bare ids renamed"]);
    const other = await scim.call("PATCH", `/Groups/${bare.body.id}`, { Operations: [{ op: "replace", value: { id: ids[0], displayName: "Taken over" } }] });
    expect([other.status, other.body.scimType, other.body.detail]).toEqual([400, "mutability", '"id" is read-only: no client sets it.']);
    expect((await scim.call("GET", `/Groups/${bare.body.id}`)).body.displayName).toBe("Bare ids renamed");
  });

  it("PATCH adds and removes members (value filters too); a manual membership is never removed by the directory", async () => {
    const group = (await scim.call("POST", "/Groups", { displayName: "Patchers", members: [{ value: ids[0] }] })).body;
    await addMembers(systemCtx, { groupId: group.id, userIds: [ids[3]!] });
    let res = await scim.call("PATCH", `/Groups/${group.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "add", path: "members", value: [{ value: ids[1] }, { value: ids[2] }] }] });
    // 200 with the resource (RFC 7644 §3.5.2), without the members unless asked for.
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: group.id, displayName: "Patchers", meta: { version: 'W/"2"' } });
    expect(res.body.members).toBeUndefined();
    res = await scim.call("PATCH", `/Groups/${group.id}?attributes=members`, { Operations: [{ op: "remove", path: `members[value eq "${ids[1]}"]` }] });
    expect(res.status).toBe(200);
    expect(memberIds(res.body)).toEqual([ids[0], ids[2]].sort());
    expect(memberIds((await scim.call("GET", `/Groups/${group.id}`)).body)).toEqual([ids[0], ids[2]].sort());
    res = await scim.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "remove", path: "members" }] });
    expect((await scim.call("GET", `/Groups/${group.id}`)).body.members).toEqual([]);
    const rows = await getDb().select().from(groupMembers).where(eq(groupMembers.groupId, group.id));
    expect(rows.map((r) => [r.userId, r.source])).toEqual([[ids[3], "manual"]]);
  });

  it("a directory set to answer as Microsoft Entra ID expects gets 204 to a PATCH, unless it asks for attributes", async () => {
    const entra = await scimClient(env.dev, "Entra directory", { patchAnswer: "no_content" });
    const group = (await entra.call("POST", "/Groups", { displayName: "Entra group" })).body;
    const plain = await entra.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "replace", path: "displayName", value: "Entra group 2" }] });
    expect([plain.status, plain.body, plain.headers.get("etag")]).toEqual([204, null, 'W/"2"']);
    const asked = await entra.call("PATCH", `/Groups/${group.id}?attributes=displayName`, { Operations: [{ op: "replace", path: "displayName", value: "Entra group 3" }] });
    expect([asked.status, asked.body.displayName]).toEqual([200, "Entra group 3"]);
  });

  it("replaces and patches a group of more than 10,922 members (one parameter per member passed Postgres's 65,535: a 500)", async () => {
    const n = 11_000;
    // The directory's users written in SQL: provisioning 11,000 over HTTP is not what is tested here.
    const rows = await getSql()<{ user_id: string }[]>`
      with u as (
        insert into users (email, name, source, environment_keys)
        select 'big' || i || '@large.example', 'Big ' || i, 'scim', 'test' from generate_series(1, ${n}::int) i returning id, email),
      a as (insert into environment_access (user_id, environment_id, source, directory_id) select id, ${env.test.id}, 'scim', ${scim.directory.id} from u)
      insert into directory_users (directory_id, user_id, user_name, resource) select ${scim.directory.id}, id, email, '{}'::jsonb from u returning user_id`;
    const ids = rows.map((r) => r.user_id);
    const group = (await scim.call("POST", "/Groups", { displayName: "All staff", members: ids.slice(0, 5_000).map((value) => ({ value })) })).body;
    const put = await scim.call("PUT", `/Groups/${group.id}`, { displayName: "All staff", members: ids.map((value) => ({ value })) });
    expect(put.status).toBe(200);
    const patch = await scim.call("PATCH", `/Groups/${group.id}`, { schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "remove", path: `members[value eq "${ids[0]}"]` }] });
    expect(patch.status).toBe(200);
    expect(await getDb().$count(groupMembers, eq(groupMembers.groupId, group.id))).toBe(n - 1);
  });

  it("two concurrent PATCHes adding different members both land", async () => {
    const group = (await scim.call("POST", "/Groups", { displayName: "Concurrent" })).body;
    const [a, b] = await Promise.all([
      scim.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: ids[0] }] }] }),
      scim.call("PATCH", `/Groups/${group.id}`, { Operations: [{ op: "add", path: "members", value: [{ value: ids[1] }] }] }),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(memberIds((await scim.call("GET", `/Groups/${group.id}`)).body)).toEqual([ids[0], ids[1]].sort());
  });

  it("PUT replaces name and members; ignores values that are not users of this directory", async () => {
    const group = (await scim.call("POST", "/Groups", { displayName: "Before", members: [{ value: ids[0] }] })).body;
    const res = await scim.call("PUT", `/Groups/${group.id}`, { displayName: "After", members: [{ value: ids[2] }, { value: "string id 1" }, { value: crypto.randomUUID() }] });
    expect(res.status).toBe(200);
    expect(res.body.displayName).toBe("After");
    expect(memberIds(res.body)).toEqual([ids[2]]);
    const excluded = await scim.call("GET", `/Groups/${group.id}?excludedAttributes=members`);
    expect(excluded.body).not.toHaveProperty("members");
  });

  it("filters groups by displayName and by member, and deletes", async () => {
    const group = (await scim.call("POST", "/Groups", { displayName: "Filter Me", members: [{ value: ids[3] }] })).body;
    expect((await scim.call("GET", `/Groups?filter=${encodeURIComponent('displayName eq "filter me"')}`)).body.Resources.map((g: { id: string }) => g.id)).toEqual([group.id]);
    expect((await scim.call("GET", `/Groups?filter=${encodeURIComponent(`members[value eq "${ids[3]}"]`)}`)).body.totalResults).toBeGreaterThanOrEqual(1);
    expect((await scim.call("GET", `/Groups?filter=${encodeURIComponent("owner eq \"x\"")}`)).body).toMatchObject({ status: "400", scimType: "invalidFilter" });
    expect((await scim.call("DELETE", `/Groups/${group.id}`)).status).toBe(204);
    expect((await scim.call("GET", `/Groups/${group.id}`)).status).toBe(404);
    expect(await getDb().select().from(groups).where(and(eq(groups.id, group.id)))).toHaveLength(0);
  });

  it("a directory sees only its own groups", async () => {
    const other = await scimClient(env.test, "Other TEST");
    const mine = (await scim.call("POST", "/Groups", { displayName: "Mine Only" })).body;
    expect((await other.call("GET", `/Groups/${mine.id}`)).status).toBe(404);
    expect((await other.call("GET", "/Groups")).body.totalResults).toBe(0);
  });
});
