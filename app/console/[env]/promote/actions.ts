"use server";

import { consoleAction } from "@/lib/actions";
import { promoteBetween } from "@/lib/environments/promotion";

/** Apply the plan shown: the source's configuration now, applied only if the plan's hash still holds. */
export const promoteAction = consoleAction({ permission: ["groups", "write"] }, async (ctx, input: unknown) => {
  const plan = await promoteBetween(ctx, input);
  return { changes: plan.changes.length, hash: plan.hash };
});
