import "server-only";
import { clientErrorOf } from "@/lib/db-errors";
import { revalidatePath } from "next/cache";
import type { DomainContext } from "@/lib/auth/actor";
import { contextFromSession, getConsoleSession, MUST_ENROL } from "@/lib/auth/session";
import { stepUpSatisfied } from "@/lib/second-factor";
import type { FieldErrors } from "@/lib/errors";
import { denialReason, type PermissionResource, type PermissionAction } from "@/lib/permissions";

/** `code` "step_up_required": the action is sensitive and the member must confirm a second factor first (the UI asks, then retries). */
export type ActionResult<T> = { ok: true; data: T } | { ok: false; error: string; fieldErrors?: FieldErrors; code?: "step_up_required" };

type ActionOptions = {
  /** The permission every caller needs before anything is parsed (the domain checks scope again). */
  permission: readonly [PermissionResource, PermissionAction];
  /** Paths whose server-rendered data the action changes. */
  revalidate?: readonly string[];
  /** Sensitive: a member with a second factor must have proven it in the last 15 minutes (STEP_UP_MINUTES). */
  stepUp?: boolean;
  /** Open to a member who must still enrol a second factor (the enrolment page's own actions). */
  duringEnrolment?: boolean;
};

/**
 * The one wrapper every server action goes through:
 * session → permission → (the domain function parses, authorizes in scope, writes and audits in one
 * transaction) → revalidate → `{ ok, data } | { ok: false, error, fieldErrors }`. Nothing is thrown to the UI.
 */
export type ConsoleAction<A extends unknown[], T> = ((...args: A) => Promise<ActionResult<T>>) & { permission: readonly [PermissionResource, PermissionAction]; stepUp: boolean };

export function consoleAction<A extends unknown[], T>(
  options: ActionOptions,
  run: (ctx: DomainContext & { sessionId: string }, ...args: A) => Promise<T>,
): ConsoleAction<A, T> {
  // The permission travels with the action, so the authorization sweep (lib/authorization-sweep.test.ts) can read it.
  return Object.assign(async (...args: A): Promise<ActionResult<T>> => {
    const session = await getConsoleSession();
    if (!session) return { ok: false, error: "Your session has ended. Sign in again." };
    if (session.mustEnrol && !options.duringEnrolment) return { ok: false, error: MUST_ENROL };
    const ctx = { ...(await contextFromSession(session)), sessionId: session.sessionId };
    const reason = denialReason(ctx.actor, options.permission[0], options.permission[1], "any");
    if (reason) return { ok: false, error: reason };
    if (options.stepUp && !(await stepUpSatisfied(session.member.id, session.sessionId))) {
      return { ok: false, error: "Confirm it is you: enter a code from your authenticator app.", code: "step_up_required" };
    }
    try {
      const data = await run(ctx, ...args);
      for (const path of options.revalidate ?? ["/console"]) revalidatePath(path, "layout");
      return { ok: true, data };
    } catch (error) {
      const known = clientErrorOf(error);
      if (known) return { ok: false, error: known.message, fieldErrors: known.fieldErrors };
      console.error(`[action] unexpected error (request ${ctx.requestId})`, error);
      return { ok: false, error: `Something went wrong on our side (request ${ctx.requestId}).` };
    }
  }, { permission: options.permission, stepUp: options.stepUp ?? false });
}
