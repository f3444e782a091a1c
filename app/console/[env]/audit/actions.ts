"use server";

import { consoleAction } from "@/lib/actions";
import { pruneAuditTrail, verifyAuditTrail } from "@/lib/audit/chain";

export const verifyAuditTrailAction = consoleAction({ permission: ["audit", "read"] }, async () => verifyAuditTrail());

export const pruneAuditTrailAction = consoleAction({ permission: ["audit", "write"] }, async (ctx, input: unknown) => pruneAuditTrail(ctx, input));
