import "server-only";
import { actorFromSession, getConsoleSession, MUST_ENROL, type ConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";
import { denialReason, type PermissionResource } from "@/lib/permissions";
import { problem } from "./problem";

type Environment = NonNullable<Awaited<ReturnType<typeof findEnvironmentByKey>>>;

/**
 * The start of every console route handler under /console/<env> (none reads the session by hand):
 * the session (401 without), the environment (404 when unknown) and, when named, the read or
 * write permission in it (403 with the reason). Returns the problem to answer, or what the
 * handler needs.
 */
export async function consoleRouteContext(
  envKey: string,
  options: { read?: PermissionResource; write?: PermissionResource; signIn?: string } = {},
): Promise<Response | { session: ConsoleSession; env: Environment }> {
  const session = await getConsoleSession();
  if (!session) return problem(401, options.signIn ?? "Sign in to export.");
  if (session.mustEnrol) return problem(403, MUST_ENROL);
  const env = await findEnvironmentByKey(envKey);
  if (!env) return problem(404, "No such environment.");
  const actor = actorFromSession(session);
  const reason =
    (options.read ? denialReason(actor, options.read, "read", [env.id]) : null) ??
    (options.write ? denialReason(actor, options.write, "write", [env.id]) : null);
  if (reason) return problem(403, reason);
  return { session, env };
}
