"use server";

import { consoleAction } from "@/lib/actions";
import { promoteBetween } from "@/lib/environments/promotion";

/**
 * Apply the plan shown: the source's configuration now, applied only if the plan's hash still holds.
 * Step-up as on the settings page: a promotion can change the target's sign-in settings.
 */
export const promoteAction = consoleAction({ permission: ["groups", "write"], stepUp: true }, async (ctx, input: unknown) => {
  const plan = await promoteBetween(ctx, input);
  return { changes: plan.changes.length, hash: plan.hash };
});
