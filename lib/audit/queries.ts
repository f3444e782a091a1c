import "server-only";
import { desc } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, type AuditEvent } from "@/db/schema";

/** The newest audit events (filters, diff view and export come with the audit issue). */
export async function latestAuditEvents(limit = 50): Promise<AuditEvent[]> {
  return getDb().select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(Math.min(limit, 500));
}
