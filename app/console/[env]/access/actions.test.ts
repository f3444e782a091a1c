import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});
beforeEach(() => cookieJar.clear());

describe("access actions", () => {
  it("refuse callers without a session, reviewers and admins outside their environments, writing nothing", async () => {
    const input = { environmentId: env.prod.id, feature: "agent_studio", name: "Genie" };
    expect(await actions.createResourceAction(input)).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    await signInAs("reviewer");
    expect(await actions.createResourceAction(input)).toEqual({ ok: false, error: "A reviewer cannot change resources." });
    expect(await actions.addGrantsAction({ environmentId: env.prod.id, feature: "mcp", userIds: [crypto.randomUUID()] })).toEqual({ ok: false, error: "A reviewer cannot change access grants." });
    cookieJar.clear();
    await signInAs("environment_admin", [env.dev.id]);
    expect(await actions.createResourceAction(input)).toMatchObject({ ok: false, error: "This change touches an environment outside your scope." });
    expect(await countRows("resources")).toBe(0);
  });

  it("create, grant, explain and delete for an admin; bad input gets field errors", async () => {
    await signInAs("owner");
    const blank = await actions.createResourceAction({ environmentId: env.prod.id, feature: "agent_studio", name: "" });
    expect(!blank.ok && blank.fieldErrors?.name).toEqual(["Name the resource."]);
    const created = await actions.createResourceAction({ environmentId: env.prod.id, feature: "agent_studio", name: "Action genie" });
    expect(created.ok).toBe(true);
    const id = created.ok ? created.data.id : "";
    const user = await createUser(systemCtx, { name: "Explained", email: "explained@example.com", environmentIds: [env.prod.id] });
    const before = await actions.explainAction({ environment: "prod", userId: user.id, feature: "agent_studio", resourceId: id });
    expect(before).toMatchObject({ ok: true, data: { allow: false, reason: "no_grant" } });
    expect(await actions.addGrantsAction({ environmentId: env.prod.id, feature: "agent_studio", resourceId: id, userIds: [user.id] })).toEqual({ ok: true, data: { added: 1, unchanged: 0 } });
    const after = await actions.explainAction({ environment: "prod", userId: user.id, feature: "agent_studio", resourceId: id });
    expect(after).toMatchObject({ ok: true, data: { allow: true, reason: "granted", path: ["user explained@example.com", "direct grant on “Action genie”"] } });
    expect(await actions.explainAction({ environment: "prod", userId: "", feature: "agent_studio", resourceId: id })).toMatchObject({ ok: false, fieldErrors: { userId: ["Pick a user."] } });
    expect(await actions.updateResourceAction(id, { name: "Renamed genie" })).toEqual({ ok: true, data: { name: "Renamed genie" } });
    expect(await actions.deleteResourceAction(id)).toEqual({ ok: true, data: null });
    expect(await countRows("access_grants")).toBe(0);
  });
});
