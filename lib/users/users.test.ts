import { beforeAll, describe, expect, it } from "vitest";
import { and, eq, inArray, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, environmentAccess, groupMembers, groups, sessions, users, type Environment } from "@/db/schema";
import { auditActions, countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ConflictError, ForbiddenError, ValidationError, VersionConflictError } from "@/lib/errors";
import { createGroup } from "@/lib/groups";
import { createUser, deleteUser, grantEnvironment, reactivateUser, revokeEnvironment, suspendUser, updateUser } from ".";
import { environmentIdsOf } from "@/lib/groups/membership-rows";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

async function groupsOf(userId: string, environmentId: string) {
  const rows = await getDb()
    .select({ name: groups.name, source: groupMembers.source })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(sql`${groupMembers.userId} = ${userId} and ${groupMembers.environmentId} = ${environmentId}`)
    .orderBy(groups.name);
  return rows.map((r) => `${r.name}:${r.source}`);
}

async function openSession(userId: string, environmentId: string) {
  const [s] = await getDb()
    .insert(sessions)
    .values({ tokenHash: crypto.randomUUID(), userId, environmentId, method: "password", expiresAt: new Date(Date.now() + 3600_000) })
    .returning();
  return s!.id;
}

async function sessionRevoked(id: string) {
  const [s] = await getDb().select({ revokedAt: sessions.revokedAt }).from(sessions).where(eq(sessions.id, id));
  return s!.revokedAt !== null;
}

describe("createUser", () => {
  it("grants the environments, joins each Everyone group and the chosen groups, with one audit row", async () => {
    const eng = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Engineering" });
    const auditBefore = await countRows("audit_events");
    const user = await createUser(memberCtx("admin"), {
      name: "  Ada Lovelace ",
      email: "Ada@Example.com",
      environmentIds: [env.dev.id, env.prod.id],
      groupIds: [eng.id],
    });
    expect(user).toMatchObject({ name: "Ada Lovelace", email: "Ada@Example.com", status: "active", source: "manual", version: 1 });
    expect(await groupsOf(user.id, env.dev.id)).toEqual(["Everyone:system"]);
    expect(await groupsOf(user.id, env.prod.id)).toEqual(["Engineering:manual", "Everyone:system"]);
    expect(await countRows("audit_events")).toBe(auditBefore + 1);
    expect((await auditActions()).at(-1)).toBe("user.create");
  });

  it("a user of one environment is created as that environment's event (its scoped readers see it, as SCIM's and JIT's); of several, the account's", async () => {
    const one = await createUser(memberCtx("admin"), { name: "One Env", email: "one-env@example.com", environmentIds: [env.dev.id] });
    const two = await createUser(memberCtx("admin"), { name: "Two Envs", email: "two-envs@example.com", environmentIds: [env.dev.id, env.prod.id] });
    const rows = await getDb().select({ targetId: auditEvents.targetId, environmentId: auditEvents.environmentId }).from(auditEvents).where(and(eq(auditEvents.action, "user.create"), inArray(auditEvents.targetId, [one.id, two.id])));
    expect(Object.fromEntries(rows.map((r) => [r.targetId, r.environmentId]))).toEqual({ [one.id]: env.dev.id, [two.id]: null });
  });

  it("refuses an email past RFC 5321's limits (64 before the @, 254 in all) with a field error, and writes nothing", async () => {
    const before = await countRows("users");
    const local = await createUser(systemCtx, { name: "Long", email: `${"a".repeat(65)}@example.com`, environmentIds: [env.dev.id] }).catch((e) => e.fieldErrors);
    expect(local).toEqual({ email: ["An email address has at most 64 characters before the @."] });
    const total = await createUser(systemCtx, { name: "Long", email: `a@${"b".repeat(60)}.${"c".repeat(60)}.${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.com`, environmentIds: [env.dev.id] }).catch((e) => e.fieldErrors);
    expect(total).toEqual({ email: ["An email address has at most 254 characters."] });
    expect(await countRows("users")).toBe(before);
    expect((await createUser(systemCtx, { name: "Long enough", email: `${"a".repeat(64)}@example.com`, environmentIds: [env.dev.id] })).email).toBe(`${"a".repeat(64)}@example.com`);
  });

  it("refuses a duplicate email, whatever its case, with a field error and writes nothing", async () => {
    await createUser(systemCtx, { name: "Grace Hopper", email: "grace@example.com", environmentIds: [env.dev.id] });
    const [usersBefore, accessBefore, auditBefore] = [await countRows("users"), await countRows("environment_access"), await countRows("audit_events")];
    const error = await createUser(systemCtx, { name: "Other Grace", email: "GRACE@example.com", environmentIds: [env.dev.id] }).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.fieldErrors).toEqual({ email: ["A user with this email already exists."] });
    expect(await countRows("users")).toBe(usersBefore);
    expect(await countRows("environment_access")).toBe(accessBefore);
    expect(await countRows("audit_events")).toBe(auditBefore);
  });

  it("reports every invalid field at once", async () => {
    const error = await createUser(systemCtx, { name: "", email: "not-an-email", environmentIds: ["nope"] }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.fieldErrors).toEqual({
      name: ["Enter a name."],
      email: ["Enter a valid email address."],
      "environmentIds.0": ["Not a valid id."],
    });
  });

  it("refuses a group of an environment the user is not granted", async () => {
    const finance = await createGroup(systemCtx, { environmentId: env.test.id, name: "Finance" });
    const error = await createUser(systemCtx, { name: "Alan Turing", email: "alan@example.com", environmentIds: [env.dev.id], groupIds: [finance.id] }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(error.fieldErrors.groupIds).toEqual(["“Finance” is in an environment the user is not granted."]);
    expect(await getDb().select().from(users).where(eq(users.email, "alan@example.com"))).toEqual([]);
  });

  it("lets an environment admin create users only inside their environments", async () => {
    const devAdmin = memberCtx("environment_admin", [env.dev.id]);
    await expect(createUser(devAdmin, { name: "In Scope", email: "in@example.com", environmentIds: [env.dev.id] })).resolves.toMatchObject({ email: "in@example.com" });
    await expect(createUser(devAdmin, { name: "Out", email: "out@example.com", environmentIds: [env.dev.id, env.prod.id] })).rejects.toThrowError(
      "This change touches an environment outside your scope.",
    );
    await expect(createUser(memberCtx("reviewer"), { name: "R", email: "r@example.com" })).rejects.toThrowError("A reviewer cannot change users.");
  });
});

describe("updateUser", () => {
  it("changes name and email, bumps the version and audits before and after", async () => {
    const user = await createUser(systemCtx, { name: "Katherine J", email: "kj@example.com" });
    const updated = await updateUser(memberCtx("owner"), user.id, { name: "Katherine Johnson", expectedVersion: 1 });
    expect(updated).toMatchObject({ name: "Katherine Johnson", version: 2 });
    const [row] = await getDb().execute<{ before: unknown; after: unknown }>(sql`select before, after from audit_events where action = 'user.update' and target_id = ${user.id}`);
    expect(row).toEqual({ before: { name: "Katherine J" }, after: { name: "Katherine Johnson" } });
  });

  it("refuses a stale version and an email taken by someone else", async () => {
    const a = await createUser(systemCtx, { name: "A", email: "a1@example.com" });
    await createUser(systemCtx, { name: "B", email: "b1@example.com" });
    await updateUser(systemCtx, a.id, { name: "A2" });
    await expect(updateUser(systemCtx, a.id, { name: "A3", expectedVersion: 1 })).rejects.toThrowError(VersionConflictError);
    const taken = await updateUser(systemCtx, a.id, { email: "B1@example.com" }).catch((e) => e);
    expect(taken.fieldErrors).toEqual({ email: ["A user with this email already exists."] });
  });

  it("keeps a DEV admin away from a user who can also enter PROD", async () => {
    const both = await createUser(systemCtx, { name: "Both", email: "both@example.com", environmentIds: [env.dev.id, env.prod.id] });
    const error = await updateUser(memberCtx("environment_admin", [env.dev.id]), both.id, { name: "Renamed" }).catch((e) => e);
    expect(error).toBeInstanceOf(ForbiddenError);
    expect(error.message).toBe("This change touches an environment outside your scope.");
  });

  it("keeps a DEV admin from granting DEV to a user they could not change: one no environment holds, or one of PROD (else the account would pass into their hands, or out of PROD's)", async () => {
    const devAdmin = memberCtx("environment_admin", [env.dev.id]);
    const devAndTest = memberCtx("environment_admin", [env.dev.id, env.test.id]);
    const wide = await createUser(systemCtx, { name: "Wide", email: "wide-grant@example.com", environmentIds: [] });
    const prod = await createUser(systemCtx, { name: "Prod", email: "prod-grant@example.com", environmentIds: [env.prod.id] });
    const test = await createUser(systemCtx, { name: "Test", email: "test-grant@example.com", environmentIds: [env.test.id] });
    const refusal = (userId: string, ctx = devAdmin) => grantEnvironment(ctx, { userId, environmentId: env.dev.id }).catch((e: Error) => [e.constructor.name, e.message]);
    expect(await refusal(wide.id)).toEqual(["ForbiddenError", "wide-grant@example.com can enter no environment yet: their account is account-wide, so granting dev needs an owner or admin."]);
    expect(await refusal(prod.id)).toEqual(["ForbiddenError", "prod-grant@example.com can also enter prod, outside your scope: granting dev would change who manages their account, so it needs an admin of prod too (or an owner or admin)."]);
    expect(await refusal(test.id)).toEqual(["ForbiddenError", "test-grant@example.com can also enter test, outside your scope: granting dev would change who manages their account, so it needs an admin of test too (or an owner or admin)."]);
    expect(await environmentIdsOf(getDb(), prod.id)).toEqual([env.prod.id]);
    // Granting what a user of DEV and PROD already has is no change (not a refusal).
    const both = await createUser(systemCtx, { name: "Both", email: "both-grant@example.com", environmentIds: [env.dev.id, env.prod.id] });
    expect(await grantEnvironment(devAdmin, { userId: both.id, environmentId: env.dev.id })).toBe(false);
    // An admin of both environments, or an account-wide admin, may.
    expect(await grantEnvironment(devAndTest, { userId: test.id, environmentId: env.dev.id })).toBe(true);
    expect(await grantEnvironment(memberCtx("admin"), { userId: wide.id, environmentId: env.dev.id })).toBe(true);
    // Now a user of DEV only: the DEV admin manages them.
    expect(await updateUser(devAdmin, wide.id, { name: "Wide, now of DEV" })).toMatchObject({ name: "Wide, now of DEV" });
  });
});

describe("status, deletion and environment access", () => {
  it("suspending ends every session at once; reactivating restores sign-in", async () => {
    const user = await createUser(systemCtx, { name: "Susp", email: "susp@example.com", environmentIds: [env.dev.id, env.prod.id] });
    const s1 = await openSession(user.id, env.dev.id);
    const s2 = await openSession(user.id, env.prod.id);
    const suspended = await suspendUser(memberCtx("admin"), user.id);
    expect(suspended.status).toBe("suspended");
    expect(suspended.revokedBefore).toBeInstanceOf(Date);
    expect([await sessionRevoked(s1), await sessionRevoked(s2)]).toEqual([true, true]);
    expect((await reactivateUser(memberCtx("admin"), user.id)).status).toBe("active");
    expect((await auditActions()).slice(-2)).toEqual(["user.suspend", "user.reactivate"]);
  });

  it("revoking an environment leaves its groups (Everyone too) and ends sessions there only", async () => {
    const support = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Support" });
    const user = await createUser(systemCtx, { name: "Rev", email: "rev@example.com", environmentIds: [env.dev.id, env.prod.id], groupIds: [support.id] });
    const devSession = await openSession(user.id, env.dev.id);
    const prodSession = await openSession(user.id, env.prod.id);
    expect(await revokeEnvironment(memberCtx("admin"), { userId: user.id, environmentId: env.prod.id })).toBe(true);
    expect(await groupsOf(user.id, env.prod.id)).toEqual([]);
    expect(await groupsOf(user.id, env.dev.id)).toEqual(["Everyone:system"]);
    expect([await sessionRevoked(devSession), await sessionRevoked(prodSession)]).toEqual([false, true]);
    // Revoking again changes nothing and writes no audit row.
    const auditBefore = await countRows("audit_events");
    expect(await revokeEnvironment(systemCtx, { userId: user.id, environmentId: env.prod.id })).toBe(false);
    expect(await countRows("audit_events")).toBe(auditBefore);
    // Granting again joins Everyone again.
    expect(await grantEnvironment(systemCtx, { userId: user.id, environmentId: env.prod.id })).toBe(true);
    expect(await groupsOf(user.id, env.prod.id)).toEqual(["Everyone:system"]);
  });

  it("keeps every derived count and key right through grants, revokes and memberships", async () => {
    const [drift] = await getDb().execute<{ counts: number; keys: number }>(sql`
      select
        (select count(*)::int from environment_access a
          where a.group_count <> (select count(*) from group_members gm where gm.user_id = a.user_id and gm.environment_id = a.environment_id and gm.source <> 'system')) as counts,
        (select count(*)::int from users u
          where u.environment_keys <> coalesce((select string_agg(e.key, ',' order by e.position, e.key) from environment_access a join environments e on e.id = a.environment_id where a.user_id = u.id), '')) as keys`);
    expect(drift).toEqual({ counts: 0, keys: 0 });
    const [sample] = await getDb().execute<{ n: number }>(sql`select count(*)::int as n from environment_access where group_count > 0`);
    expect(sample!.n).toBeGreaterThan(0);
  });

  it("keeps the Everyone count equal to the users with access", async () => {
    const [everyone] = await getDb().select().from(groups).where(sql`${groups.environmentId} = ${env.dev.id} and ${groups.source} = 'system'`);
    const access = await getDb().select().from(environmentAccess).where(eq(environmentAccess.environmentId, env.dev.id));
    expect(everyone!.memberCount).toBe(access.length);
  });

  it("deleting a user removes access and memberships and keeps a snapshot in the trail", async () => {
    const user = await createUser(systemCtx, { name: "Del", email: "del@example.com", environmentIds: [env.test.id] });
    await deleteUser(memberCtx("owner"), user.id);
    expect(await getDb().select().from(environmentAccess).where(eq(environmentAccess.userId, user.id))).toEqual([]);
    const [row] = await getDb().execute<{ before: { email: string } }>(sql`select before from audit_events where action = 'user.delete' and target_id = ${user.id}`);
    expect(row!.before.email).toBe("del@example.com");
    await expect(deleteUser(systemCtx, user.id)).rejects.toThrowError("User not found.");
  });
});
