import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { createUser } from "@/lib/users";
import { pruneAuditTrail, sealAuditTrail, verifyAuditTrail } from "./chain";

describe("retention by age", () => {
  it("deletes old sealed rows from the start of the chain only, anchors the rest, audits itself and still verifies", async () => {
    const env = await createEnvironments();
    for (let i = 0; i < 5; i++) await createUser(systemCtx, { name: `Old ${i}`, email: `old${i}@example.com`, environmentIds: [env.dev.id] });
    // Backdate the first rows (before they are sealed, as if written long ago).
    await getDb().transaction(async (tx) => {
      await tx.execute(sql`alter table audit_events disable trigger audit_events_append_only`);
      await tx.execute(sql`update audit_events set occurred_at = now() - interval '400 days' where id in (select id from audit_events order by id limit 6)`);
      await tx.execute(sql`alter table audit_events enable trigger audit_events_append_only`);
    });
    await sealAuditTrail();
    const before = await verifyAuditTrail();
    expect(before.ok).toBe(true);
    const { pruned } = await pruneAuditTrail(memberCtx("owner"), { olderThanDays: 365 });
    expect(pruned).toBe(6);
    const after = await verifyAuditTrail();
    expect(after).toMatchObject({ ok: true, anchor: { seq: 7, prunedRows: 6 }, checked: before.checked - 6 + 1 });
    const [event] = await getDb().execute<{ after: { pruned: number; olderThanDays: number }; actor_label: string }>(sql`select after, actor_label from audit_events where action = 'audit.prune'`);
    expect(event!.after).toMatchObject({ pruned: 6, olderThanDays: 365 });
    // Nothing left to prune: no new anchor, still verifies.
    expect((await pruneAuditTrail(systemCtx, { olderThanDays: 365 })).pruned).toBe(0);
    expect((await verifyAuditTrail()).ok).toBe(true);
  });
});
