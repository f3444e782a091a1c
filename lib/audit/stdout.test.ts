import { describe, expect, it, vi } from "vitest";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";
import { sealAuditTrail } from "./chain";

// Read once by env.ts, before the first database call of this file.
process.env.AUDIT_STDOUT = "true";

describe("audit events on stdout", () => {
  it("are written once each, as JSON lines, when sealed", async () => {
    const env = await createEnvironments();
    await sealAuditTrail();
    const lines: string[] = [];
    const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk) => (lines.push(String(chunk)), true));
    try {
      await createUser(systemCtx, { name: "Shipped", email: "shipped@example.com", environmentIds: [env.dev.id] });
      await sealAuditTrail();
      await sealAuditTrail(); // nothing new: nothing written twice
    } finally {
      spy.mockRestore();
    }
    const events = lines.map((l) => JSON.parse(l) as { type: string; action: string; target_label: string; hash: string; seq: number });
    expect(events.map((e) => e.action)).toEqual(["user.create"]);
    expect(events[0]).toMatchObject({ type: "audit_event", target_label: "shipped@example.com", hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(lines.every((l) => l.endsWith("\n"))).toBe(true);
  });
});
