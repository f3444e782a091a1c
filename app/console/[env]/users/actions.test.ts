import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Environment } from "@/db/schema";
import { cookieJar as jar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";

// Server actions are called here as the browser would reach them: through the wrapper, with
// whatever session cookie the request carries. Hiding a button is not what protects them.

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");

let env: { dev: Environment; test: Environment; prod: Environment };

beforeAll(async () => {
  env = await createEnvironments();
});
beforeEach(() => jar.clear());

describe("server actions refuse callers without the right session", () => {
  it("refuses every action without a session and writes nothing", async () => {
    const user = await createUser(systemCtx, { name: "Target", email: "target@example.com", environmentIds: [env.dev.id] });
    const before = { users: await countRows("users"), groups: await countRows("groups"), audit: await countRows("audit_events") };
    const calls = [
      actions.createUserAction({ name: "X", email: "x@example.com" }),
      actions.updateUserAction(user.id, { name: "Changed" }),
      actions.suspendUserAction(user.id),
      actions.reactivateUserAction(user.id),
      actions.deleteUserAction(user.id),
      actions.grantEnvironmentAction({ userId: user.id, environmentId: env.prod.id }),
      actions.revokeEnvironmentAction({ userId: user.id, environmentId: env.dev.id }),
      actions.createGroupAction({ environmentId: env.dev.id, name: "G" }),
      actions.updateGroupAction(crypto.randomUUID(), { name: "G" }),
      actions.deleteGroupAction(crypto.randomUUID()),
      actions.addMembersAction({ groupId: crypto.randomUUID(), userIds: [user.id] }),
      actions.removeMembersAction({ groupId: crypto.randomUUID(), userIds: [user.id] }),
      actions.addUserToGroupsAction({ userId: user.id, groupIds: [crypto.randomUUID()] }),
      actions.bulkUsersAction({ action: "delete", userIds: [user.id] }),
      actions.searchGroupsAction({ environmentId: env.dev.id, q: "" }),
      actions.searchUsersAction(env.dev.id, "Target"),
      actions.startImportAction({ uploadId: crypto.randomUUID(), environmentId: env.dev.id, mapping: { email: "email" } }),
      actions.startBulkAllMatchingAction({ action: "suspend", filter: { environmentId: env.dev.id } }),
      actions.jobStatusAction(crypto.randomUUID()),
      actions.cancelJobAction(crypto.randomUUID()),
      actions.sendInvitationAction({ userId: user.id, environmentId: env.dev.id }),
      actions.signOutEverywhereAction(user.id),
      actions.resetUserSecondFactorsAction(user.id),
      actions.revokeConnectedAppAction(crypto.randomUUID()),
      actions.linkIdentityByHandAction({ userId: user.id, identityProviderId: crypto.randomUUID(), subject: "x" }),
      actions.unlinkIdentityAction({ userId: user.id, identityProviderId: crypto.randomUUID(), subject: "x" }),
      actions.liftExclusionAction(crypto.randomUUID()),
    ];
    const results = await Promise.all(calls);
    expect(results).toHaveLength(Object.keys(actions).length);
    for (const r of results) expect(r).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    expect({ users: await countRows("users"), groups: await countRows("groups"), audit: await countRows("audit_events") }).toEqual(before);
  });

  it("refuses a reviewer with the reason and writes nothing", async () => {
    await signInAs("reviewer");
    const user = await createUser(systemCtx, { name: "Target2", email: "target2@example.com", environmentIds: [env.dev.id] });
    const auditBefore = await countRows("audit_events");
    expect(await actions.createUserAction({ name: "X", email: "x2@example.com" })).toEqual({ ok: false, error: "A reviewer cannot change users." });
    expect(await actions.suspendUserAction(user.id)).toEqual({ ok: false, error: "A reviewer cannot change users." });
    expect(await actions.createGroupAction({ environmentId: env.dev.id, name: "G" })).toEqual({ ok: false, error: "A reviewer cannot change groups." });
    expect(await actions.grantEnvironmentAction({ userId: user.id, environmentId: env.prod.id })).toEqual({
      ok: false,
      error: "A reviewer cannot change environment access.",
    });
    expect(await actions.bulkUsersAction({ action: "suspend", userIds: [user.id] })).toEqual({ ok: false, error: "A reviewer cannot change users." });
    expect(await actions.startBulkAllMatchingAction({ action: "delete", filter: { environmentId: env.dev.id } })).toEqual({ ok: false, error: "A reviewer cannot change users." });
    expect(await actions.startImportAction({ uploadId: crypto.randomUUID(), environmentId: env.dev.id, mapping: { email: "email" } })).toEqual({
      ok: false,
      error: "A reviewer cannot change users.",
    });
    // Reading stays open to a reviewer.
    const found = await actions.searchUsersAction(env.dev.id, "Target2");
    expect(found).toEqual({ ok: true, data: [{ id: user.id, name: "Target2", detail: "target2@example.com" }] });
    expect(await countRows("audit_events")).toBe(auditBefore);
  });

  it("refuses an environment admin outside their environments", async () => {
    await signInAs("environment_admin", [env.dev.id]);
    const result = await actions.createGroupAction({ environmentId: env.prod.id, name: "Not mine" });
    expect(result).toEqual({ ok: false, error: "This change touches an environment outside your scope.", fieldErrors: undefined });
    const ok = await actions.createGroupAction({ environmentId: env.dev.id, name: "Mine" });
    expect(ok.ok).toBe(true);
  });

  it("lets an owner act and returns field errors for bad input", async () => {
    await signInAs("owner");
    const created = await actions.createUserAction({ name: "New Person", email: "new.person@example.com", environmentIds: [env.dev.id] });
    expect(created.ok).toBe(true);
    const duplicate = await actions.createUserAction({ name: "Again", email: "NEW.PERSON@example.com" });
    expect(duplicate).toEqual({
      ok: false,
      error: "A user with this email already exists.",
      fieldErrors: { email: ["A user with this email already exists."] },
    });
    const invalid = await actions.createUserAction({ name: "", email: "" });
    expect(invalid.ok).toBe(false);
    expect(!invalid.ok && invalid.fieldErrors).toEqual({ name: ["Enter a name."], email: ["Enter an email address."] });
  });

  it("refuses a session that was signed out, even with its cookie", async () => {
    await signInAs("owner");
    const { endConsoleSession } = await import("@/lib/auth/console-sign-in");
    const { decode } = await import("next-auth/jwt");
    const token = await decode({ token: jar.get("next-auth.session-token")!, secret: process.env.NEXTAUTH_SECRET! });
    await endConsoleSession(token!.sid as string);
    expect(await actions.createGroupAction({ environmentId: env.dev.id, name: "After sign-out" })).toEqual({
      ok: false,
      error: "Your session has ended. Sign in again.",
    });
  });
});
