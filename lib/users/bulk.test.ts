import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { createGroup } from "@/lib/groups";
import { createUser } from ".";
import { runBulkAction } from "./bulk";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const make = async (n: number, prefix: string, environmentIds: string[]) => {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await createUser(systemCtx, { name: `${prefix} ${i}`, email: `${prefix}${i}@example.com`, environmentIds })).id);
  return out;
};

describe("bulk actions", () => {
  it("suspends many users in one call with one audit row per user changed, and reports the rest", async () => {
    const ids = await make(4, "bulk-s", [env.dev.id]);
    await runBulkAction(systemCtx, { action: "suspend", userIds: [ids[0]] });
    const ghost = crypto.randomUUID();
    const auditBefore = await countRows("audit_events");
    const result = await runBulkAction(memberCtx("admin"), { action: "suspend", userIds: [...ids, ghost] });
    expect(result.changed.sort()).toEqual(ids.slice(1).sort());
    expect(result.unchanged).toEqual([ids[0]]);
    expect(result.failed).toEqual([{ userId: ghost, reason: "User not found.", code: "not_found" }]);
    expect(await countRows("audit_events")).toBe(auditBefore + 3);
    const reactivated = await runBulkAction(systemCtx, { action: "reactivate", userIds: ids });
    expect(reactivated.changed).toHaveLength(4);
  });

  it("an environment admin changes only the users entirely inside their scope", async () => {
    const devOnly = await make(2, "bulk-d", [env.dev.id]);
    const both = await make(1, "bulk-b", [env.dev.id, env.prod.id]);
    const result = await runBulkAction(memberCtx("environment_admin", [env.dev.id]), { action: "delete", userIds: [...devOnly, ...both] });
    expect(result.changed.sort()).toEqual(devOnly.sort());
    expect(result.failed).toEqual([{ userId: both[0], reason: "This change touches an environment outside your scope.", code: "forbidden" }]);
    expect(await getDb().execute(sql`select 1 from users where id in ${devOnly}`)).toHaveLength(0);
  });

  it("grants and revokes an environment for many, keeping Everyone in step", async () => {
    const ids = await make(3, "bulk-e", [env.dev.id]);
    const granted = await runBulkAction(systemCtx, { action: "grant_environment", environmentId: env.test.id, userIds: ids });
    expect(granted.changed.sort()).toEqual([...ids].sort());
    const [everyone] = await getDb().execute<{ n: number }>(sql`select member_count as n from groups where environment_id = ${env.test.id} and source = 'system'`);
    expect(everyone!.n).toBe(3);
    const revoked = await runBulkAction(systemCtx, { action: "revoke_environment", environmentId: env.test.id, userIds: ids.slice(0, 2) });
    expect(revoked.changed.sort()).toEqual(ids.slice(0, 2).sort());
    const [after] = await getDb().execute<{ n: number }>(sql`select member_count as n from groups where environment_id = ${env.test.id} and source = 'system'`);
    expect(after!.n).toBe(1);
  });

  it("adds to and removes from a group, with the reasons for users without access", async () => {
    const ids = await make(3, "bulk-g", [env.prod.id]);
    const outsider = (await make(1, "bulk-o", [env.dev.id]))[0]!;
    const g = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Bulk group" });
    const added = await runBulkAction(systemCtx, { action: "add_to_group", groupId: g.id, userIds: [...ids, outsider] });
    expect(added.changed).toHaveLength(3);
    expect(added.failed).toEqual([{ userId: outsider, reason: "No access to the prod environment.", code: "invalid" }]);
    const removed = await runBulkAction(systemCtx, { action: "remove_from_group", groupId: g.id, userIds: [ids[0]] });
    expect(removed.changed).toEqual([ids[0]]);
  });

  it("rejects a malformed request with the reason and writes nothing", async () => {
    const before = await countRows("audit_events");
    await expect(runBulkAction(systemCtx, { action: "explode", userIds: [] })).rejects.toMatchObject({ fieldErrors: { action: expect.any(Array) } });
    await expect(runBulkAction(systemCtx, { action: "suspend", userIds: [] })).rejects.toThrowError("Choose at least one user.");
    await expect(runBulkAction(memberCtx("reviewer"), { action: "suspend", userIds: [crypto.randomUUID()] })).rejects.toThrowError("A reviewer cannot change users.");
    expect(await countRows("audit_events")).toBe(before);
  });
});
