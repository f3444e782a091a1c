"use server";

import { consoleAction } from "@/lib/actions";
import { decideAccessRequest } from "@/lib/access-requests";

/** Approve (a direct grant) or deny (with the reason the user sees) an open access request. */
export const decideAccessRequestAction = consoleAction({ permission: ["access_requests", "write"] }, async (ctx, input: unknown) => {
  const r = await decideAccessRequest(ctx, input);
  return { status: r.status };
});
