import { beforeAll, describe, expect, it } from "vitest";
import { eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { groups, type Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ConflictError, ValidationError } from "@/lib/errors";
import { createUser } from "@/lib/users";
import { addMembers, addUserToGroups, createGroup, deleteGroup, listGroups, removeMembers, updateGroup } from ".";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const memberCount = async (id: string) => (await getDb().select().from(groups).where(eq(groups.id, id)))[0]!.memberCount;

describe("groups", () => {
  it("names are unique per environment, case-insensitively; the same name may exist in another environment", async () => {
    await createGroup(systemCtx, { environmentId: env.dev.id, name: "Support" });
    const auditBefore = await countRows("audit_events");
    const error = await createGroup(systemCtx, { environmentId: env.dev.id, name: "  SUPPORT " }).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.fieldErrors).toEqual({ name: ["A group with this name already exists in this environment."] });
    expect(await countRows("audit_events")).toBe(auditBefore);
    await expect(createGroup(systemCtx, { environmentId: env.prod.id, name: "Support" })).resolves.toMatchObject({ name: "Support" });
  });

  it("Everyone cannot be renamed or deleted, but may get a description", async () => {
    const [everyone] = await getDb().select().from(groups).where(sql`${groups.environmentId} = ${env.test.id} and ${groups.source} = 'system'`);
    await expect(updateGroup(systemCtx, everyone!.id, { name: "All" })).rejects.toThrowError("Everyone cannot be renamed.");
    await expect(deleteGroup(systemCtx, everyone!.id)).rejects.toThrowError("Everyone cannot be deleted.");
    await expect(updateGroup(systemCtx, everyone!.id, { description: "All of TEST" })).resolves.toMatchObject({ description: "All of TEST" });
    const error = await addMembers(systemCtx, { groupId: everyone!.id, userIds: [crypto.randomUUID()] }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.message).toBe("Everyone is kept automatically: grant or revoke environment access instead.");
  });

  it("renames with an audit row holding before and after; empty groups are allowed", async () => {
    const g = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Ops" });
    await updateGroup(memberCtx("admin"), g.id, { name: "Operations" });
    const [row] = await getDb().execute<{ before: unknown; after: unknown }>(sql`select before, after from audit_events where action = 'group.rename' and target_id = ${g.id}`);
    expect(row).toEqual({ before: { name: "Ops" }, after: { name: "Operations" } });
    expect(await memberCount(g.id)).toBe(0);
  });

  it("adds members with a per-user result: added, already there, no access, unknown", async () => {
    const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Finance" });
    const inProd = await createUser(systemCtx, { name: "P1", email: "p1@example.com", environmentIds: [env.prod.id] });
    const inProd2 = await createUser(systemCtx, { name: "P2", email: "p2@example.com", environmentIds: [env.prod.id] });
    const devOnly = await createUser(systemCtx, { name: "D1", email: "d1@example.com", environmentIds: [env.dev.id] });
    const ghost = crypto.randomUUID();
    await addMembers(systemCtx, { groupId: g.id, userIds: [inProd.id] });
    const result = await addMembers(memberCtx("environment_admin", [env.prod.id]), { groupId: g.id, userIds: [inProd.id, inProd2.id, devOnly.id, ghost] });
    expect(result.changed).toEqual([inProd2.id]);
    expect(result.unchanged).toEqual([inProd.id]);
    expect(result.failed).toEqual(
      expect.arrayContaining([
        { userId: ghost, reason: "User not found." },
        { userId: devOnly.id, reason: "No access to the prod environment." },
      ]),
    );
    expect(await memberCount(g.id)).toBe(2);
    const removed = await removeMembers(systemCtx, { groupId: g.id, userIds: [inProd.id] });
    expect(removed.changed).toEqual([inProd.id]);
    expect(await memberCount(g.id)).toBe(1);
  });

  it("adds one user to several groups at once, and rolls all back when one is refused", async () => {
    const a = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Multi A" });
    const b = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Multi B" });
    const u = await createUser(systemCtx, { name: "Multi", email: "multi@example.com", environmentIds: [env.dev.id] });
    const results = await addUserToGroups(memberCtx("admin"), { userId: u.id, groupIds: [a.id, b.id] });
    expect(results.flatMap((r) => r.changed)).toEqual([u.id, u.id]);
    expect([await memberCount(a.id), await memberCount(b.id)]).toEqual([1, 1]);
    const c = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Multi C" });
    const [everyone] = await getDb().select().from(groups).where(sql`${groups.environmentId} = ${env.dev.id} and ${groups.source} = 'system'`);
    await expect(addUserToGroups(systemCtx, { userId: u.id, groupIds: [c.id, everyone!.id] })).rejects.toThrowError(
      "Everyone is kept automatically: grant or revoke environment access instead.",
    );
    expect(await memberCount(c.id)).toBe(0);
  });

  it("keeps a DEV admin out of PROD groups and a reviewer out of all", async () => {
    const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Sales" });
    await expect(addMembers(memberCtx("environment_admin", [env.dev.id]), { groupId: g.id, userIds: [crypto.randomUUID()] })).rejects.toThrowError(
      "This change touches an environment outside your scope.",
    );
    await expect(deleteGroup(memberCtx("reviewer"), g.id)).rejects.toThrowError("A reviewer cannot change groups.");
  });

  it("deleting a group removes its memberships; listGroups puts Everyone first", async () => {
    const g = await createGroup(systemCtx, { environmentId: env.test.id, name: "Temp" });
    const u = await createUser(systemCtx, { name: "T", email: "t@example.com", environmentIds: [env.test.id], groupIds: [g.id] });
    expect(u.id).toBeTruthy();
    await deleteGroup(systemCtx, g.id);
    const list = await listGroups(env.test.id);
    expect(list[0]!.name).toBe("Everyone");
    expect(list.map((x) => x.name)).not.toContain("Temp");
    const rows = await getDb().execute(sql`select 1 from group_members where group_id = ${g.id}`);
    expect(rows.length).toBe(0);
  });
});
