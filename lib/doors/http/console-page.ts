import "server-only";
import { notFound } from "next/navigation";
import type { Environment } from "@/db/schema";
import type { Actor } from "@/lib/auth/actor";
import { actorFromSession, requireConsoleSession, type ConsoleSession } from "@/lib/auth/session";
import { findEnvironmentByKey } from "@/lib/environments";

/**
 * The start of a console page under /console/<env>: the session (a redirect to /sign-in without), the
 * environment named by the route (404 when unknown), the actor, and the route's other params.
 * Permission checks stay with the page: a page shows what the actor may do, it refuses nothing here.
 */
export async function consolePage<P extends { env: string }>(
  params: Promise<P>,
): Promise<{ session: ConsoleSession; actor: Actor; env: Environment; params: P }> {
  const session = await requireConsoleSession();
  const resolved = await params;
  const env = await findEnvironmentByKey(resolved.env);
  if (!env) notFound();
  return { session, actor: actorFromSession(session), env, params: resolved };
}
