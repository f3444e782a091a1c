import { beforeEach, describe, expect, it, vi } from "vitest";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows } from "@/test-support/fixtures";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));

const actions = await import("./actions");

beforeEach(() => cookieJar.clear());

describe("audit trail actions", () => {
  it("let a reviewer verify but not prune; only an owner prunes", async () => {
    expect(await actions.verifyAuditTrailAction()).toEqual({ ok: false, error: "Your session has ended. Sign in again." });
    await signInAs("reviewer");
    const verified = await actions.verifyAuditTrailAction();
    expect(verified).toMatchObject({ ok: true, data: { ok: true, broken: null } });
    expect(await actions.pruneAuditTrailAction({ olderThanDays: 365 })).toEqual({ ok: false, error: "A reviewer cannot change audit." });
    cookieJar.clear();
    await signInAs("admin");
    expect(await actions.pruneAuditTrailAction({ olderThanDays: 365 })).toEqual({ ok: false, error: "An admin cannot change audit." });
    const events = await countRows("audit_events");
    cookieJar.clear();
    await signInAs("owner");
    expect(await actions.pruneAuditTrailAction({ olderThanDays: 365 })).toEqual({ ok: true, data: { pruned: 0 } });
    expect(await countRows("audit_events")).toBeGreaterThan(events); // the prune (and the sign-in) recorded
  });
});
