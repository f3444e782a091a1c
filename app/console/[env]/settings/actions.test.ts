import { beforeEach, describe, expect, it, vi } from "vitest";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows } from "@/test-support/fixtures";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");

beforeEach(() => cookieJar.clear());

describe("API token actions", () => {
  it("refuse callers without a session, reviewers and admins' scope violations, with the reason", async () => {
    expect(await actions.createApiTokenAction({ name: "x", scope: "read" })).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    await signInAs("reviewer");
    expect(await actions.createApiTokenAction({ name: "x", scope: "read" })).toEqual({ ok: false, error: "A reviewer cannot change api tokens." });
    expect(await actions.revokeApiTokenAction(crypto.randomUUID())).toEqual({ ok: false, error: "A reviewer cannot change api tokens." });
    expect(await countRows("api_tokens")).toBe(0);
  });

  it("let an owner create a token shown once, reject bad input with field errors, and revoke it", async () => {
    await signInAs("owner");
    const bad = await actions.createApiTokenAction({ name: "", scope: "admin" });
    expect(bad.ok).toBe(false);
    expect(!bad.ok && Object.keys(bad.fieldErrors ?? {}).sort()).toEqual(["name", "scope"]);
    const created = await actions.createApiTokenAction({ name: "CI", scope: "write" });
    expect(created.ok && created.data.token).toMatch(/^iamc_[A-Za-z0-9_-]{43}$/);
    const id = created.ok ? created.data.id : "";
    expect(await actions.revokeApiTokenAction(id)).toEqual({ ok: true, data: null });
    expect(await actions.revokeApiTokenAction(id)).toEqual({ ok: false, error: "API token not found or already revoked.", fieldErrors: undefined });
  });
});

describe("signing key rotation", () => {
  it("is refused for reviewers and callers without a session, and rotates for an owner", async () => {
    expect(await actions.rotateSigningKeysAction({ algorithm: "EdDSA" })).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    await signInAs("reviewer");
    expect(await actions.rotateSigningKeysAction({ algorithm: "EdDSA" })).toEqual({ ok: false, error: "A reviewer cannot change signing keys." });
    expect(await countRows("signing_keys")).toBe(0);
    await signInAs("owner");
    const bad = await actions.rotateSigningKeysAction({ algorithm: "HS256" });
    expect(!bad.ok && bad.fieldErrors?.algorithm).toEqual(["Choose EdDSA or ES256."]);
    const rotated = await actions.rotateSigningKeysAction({ algorithm: "ES256" });
    expect(rotated.ok && Object.keys(rotated.data).sort()).toEqual(["active", "next", "retired"]);
    expect(await countRows("signing_keys")).toBe(3);
  });
});
