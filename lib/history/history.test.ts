import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { addGrants, removeGrant } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { addMembers, createGroup, deleteGroup, removeMembers, updateGroup } from "@/lib/groups";
import { createUser, deleteUser, revokeEnvironment } from "@/lib/users";
import { membershipsAsOf, groupsInHistory } from ".";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

// The database's clock between two steps (the ledger is stamped by it).
const tick = async () => {
  const [row] = await getDb().execute<{ now: string }>(sql`select clock_timestamp()::text as now`);
  await new Promise((r) => setTimeout(r, 5));
  return new Date(row!.now);
};
const emails = (rows: { kind: string; userEmail: string | null }[], kind = "member") => rows.filter((r) => r.kind === kind).map((r) => r.userEmail).sort();

describe("memberships as of a date", () => {
  it("rebuilds a group's members and grants at each moment, through renames, removals, revocations and deletions", async () => {
    const id = crypto.randomUUID().slice(0, 6);
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Payments ${id}` });
    const ann = await createUser(systemCtx, { name: "Ann", email: `ann.${id}@example.com`, environmentIds: [env.prod.id] });
    const bob = await createUser(systemCtx, { name: "Bob", email: `bob.${id}@example.com`, environmentIds: [env.prod.id] });
    const cat = await createUser(systemCtx, { name: "Cat", email: `cat.${id}@example.com`, environmentIds: [env.prod.id] });
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: `Ledger genie ${id}` });
    const t0 = await tick();
    await addMembers(systemCtx, { groupId: group.id, userIds: [ann.id, bob.id, cat.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
    const t1 = await tick();
    await removeMembers(systemCtx, { groupId: group.id, userIds: [ann.id] });
    await revokeEnvironment(systemCtx, { userId: bob.id, environmentId: env.prod.id }); // takes his memberships with it
    await updateGroup(systemCtx, group.id, { name: `Payments ${id} (renamed)` });
    const t2 = await tick();
    await deleteUser(systemCtx, cat.id);
    const t3 = await tick();

    const asOf = (at: Date) => membershipsAsOf(systemCtx, { environmentId: env.prod.id, subject: "group", group: group.id, at: at.toISOString() });
    expect(emails((await asOf(t0)).rows)).toEqual([]);
    const atT1 = await asOf(t1);
    expect(emails(atT1.rows)).toEqual([ann.email, bob.email, cat.email]);
    expect(atT1.rows.filter((r) => r.kind === "grant").map((r) => [r.feature, r.resourceName])).toEqual([["Agent Studio", `Ledger genie ${id}`]]);
    expect(atT1.rows.find((r) => r.userEmail === ann.email)).toMatchObject({ groupName: `Payments ${id}`, source: "manual" });
    expect(emails((await asOf(t2)).rows)).toEqual([cat.email]);
    expect(emails((await asOf(t3)).rows)).toEqual([]);

    // A deleted group is still answered for, under its last name.
    await deleteGroup(systemCtx, group.id);
    const gone = await asOf(t1);
    expect([gone.subject.label, emails(gone.rows)]).toEqual([`Payments ${id} (renamed)`, [ann.email, bob.email, cat.email]]);
    expect((await groupsInHistory(env.prod.id)).map((g) => g.id)).toContain(group.id);
    expect(emails((await asOf(await tick())).rows)).toEqual([]);
  });

  it("rebuilds a user's access, groups and grants (direct and through a group), even after the user is deleted", async () => {
    const id = crypto.randomUUID().slice(0, 6);
    const team = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Team ${id}` });
    const dana = await createUser(systemCtx, { name: "Dana", email: `dana.${id}@example.com`, environmentIds: [env.dev.id], groupIds: [team.id] });
    const mcp = await createResource(systemCtx, { environmentId: env.dev.id, feature: "mcp", name: `Tools ${id}` });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "mcp", resourceId: mcp.id, groupIds: [team.id] });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "workato_go", userIds: [dana.id] });
    const t1 = await tick();
    const [grant] = await getDb().execute<{ id: string }>(sql`select id from access_grants where user_id = ${dana.id}`);
    await removeGrant(systemCtx, grant!.id);
    await deleteUser(systemCtx, dana.id);
    const t2 = await tick();

    const then = await membershipsAsOf(systemCtx, { environmentId: env.dev.id, subject: "user", user: dana.email.toUpperCase(), at: t1.toISOString() });
    expect(then.subject).toEqual({ type: "user", id: dana.id, label: dana.email });
    expect(then.rows.map((r) => [r.kind, r.groupName, r.feature, r.resourceName, r.via])).toEqual([
      ["access", null, null, null, null],
      ["member", "Everyone", null, null, null],
      ["member", `Team ${id}`, null, null, null],
      ["grant", `Team ${id}`, "MCP servers", `Tools ${id}`, `group Team ${id}`],
      ["grant", null, "Workato GO", null, "direct"],
    ]);
    const now = await membershipsAsOf(systemCtx, { environmentId: env.dev.id, subject: "user", user: dana.email, at: t2.toISOString() });
    expect(now.rows).toEqual([]);
  });

  it("refuses bad input with field errors; reading is open to every console role, a reviewer included", async () => {
    const bad = (input: object) => membershipsAsOf(systemCtx, { environmentId: env.dev.id, ...input }).catch((e) => e);
    expect((await bad({ subject: "group", at: "2026-01-01T00:00:00Z" })).fieldErrors).toEqual({ group: ["Choose a group."] });
    expect((await bad({ subject: "user", user: "nobody@example.com", at: "not a date" })).fieldErrors).toEqual({ at: ["Enter a date and time."] });
    expect((await bad({ subject: "user", user: "nobody@example.com", at: "2999-01-01T00:00:00Z" })).fieldErrors).toEqual({ at: ["Pick a time that has passed."] });
    // Year 0 is a date to JavaScript, not to Postgres: a field error, not a 500.
    expect((await bad({ subject: "user", user: "nobody@example.com", at: "0000-01-01T00:00" })).fieldErrors).toEqual({ at: ["Enter a date and time (from year 1)."] });
    expect((await bad({ subject: "user", user: "nobody@example.com", at: "2026-01-01T00:00:00Z" })).fieldErrors).toEqual({ user: ["No user with that email has any history in this environment."] });
    const group = await createGroup(systemCtx, { environmentId: env.dev.id, name: `Read ${crypto.randomUUID().slice(0, 6)}` });
    const read = await membershipsAsOf(memberCtx("reviewer"), { environmentId: env.dev.id, subject: "group", group: group.id, at: new Date().toISOString() });
    expect(read.subject.label).toBe(group.name);
  });

  it("keeps the ledger append-only in the database", async () => {
    for (const statement of [sql`update membership_ledger set user_email = 'x'`, sql`delete from membership_ledger`, sql`truncate membership_ledger`]) {
      const error = await getDb().execute(statement).catch((e) => e);
      expect(error.cause?.message ?? error.message).toMatch(/membership_ledger is append-only: (UPDATE|DELETE|TRUNCATE) is refused/);
    }
  });
});
