import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments } from "@/test-support/fixtures";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});
beforeEach(() => cookieJar.clear());

describe("directory actions", () => {
  it("refuse callers without a session and reviewers, with the reason, writing nothing", async () => {
    const id = crypto.randomUUID();
    const anonymous = await Promise.all([
      actions.createDirectoryAction({ environmentId: env.dev.id, name: "x" }),
      actions.rotateDirectoryTokenAction(id),
      actions.setDirectoryStatusAction(id, "disabled"),
      actions.updateDirectorySettingsAction(id, { patchAnswer: "no_content" }),
    ]);
    expect(anonymous).toHaveLength(Object.keys(actions).length);
    for (const r of anonymous) expect(r).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    await signInAs("reviewer");
    expect(await actions.createDirectoryAction({ environmentId: env.dev.id, name: "x" })).toEqual({ ok: false, error: "A reviewer cannot change directories." });
    expect(await countRows("directories")).toBe(0);
  });

  it("let an environment admin create one in their environment (token once) and not in another", async () => {
    await signInAs("environment_admin", [env.dev.id]);
    expect(await actions.createDirectoryAction({ environmentId: env.prod.id, name: "x" })).toMatchObject({ ok: false, error: "This change touches an environment outside your scope." });
    const created = await actions.createDirectoryAction({ environmentId: env.dev.id, name: "Okta DEV" });
    expect(created.ok && created.data.token).toMatch(/^scim_/);
    const rotated = created.ok ? await actions.rotateDirectoryTokenAction(created.data.id) : null;
    expect(rotated?.ok && created.ok && rotated.data.token !== created.data.token).toBe(true);
    // What a PATCH answers is the directory's setting, audited; a bad value is a field error.
    if (!created.ok) return;
    expect(await actions.updateDirectorySettingsAction(created.data.id, { patchAnswer: "maybe" })).toMatchObject({ ok: false, fieldErrors: { patchAnswer: ["Choose what a PATCH answers."] } });
    expect(await actions.updateDirectorySettingsAction(created.data.id, { patchAnswer: "no_content" })).toEqual({ ok: true, data: { patchAnswer: "no_content" } });
  });
});
