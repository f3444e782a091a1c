import "server-only";
import { and, eq, isNotNull } from "drizzle-orm";
import type { Executor } from "@/db/client";
import { consoleSso } from "@/db/schema";

/** Whether a member of this role may use a console password, given passwordReservedForOwners. */
export const roleMayUsePassword = (role: string, reservedForOwners: boolean): boolean => role === "owner" || !reservedForOwners;

/** Whether console SSO is on with password sign-in kept for owners only (the break-glass way in). */
export async function passwordReservedForOwners(executor: Executor): Promise<boolean> {
  const [row] = await executor
    .select({ on: consoleSso.enabled })
    .from(consoleSso)
    .where(and(eq(consoleSso.enabled, true), eq(consoleSso.passwordSignIn, "owners"), isNotNull(consoleSso.identityProviderId)));
  return !!row?.on;
}
