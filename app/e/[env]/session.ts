import "server-only";
import { cookies } from "next/headers";
import { readEndUserSession, sessionCookieName } from "@/lib/end-user/sessions";

/** The end user's live session in this environment, from the cookie (null when none). */
export async function currentEndUserSession(envKey: string) {
  const jar = await cookies();
  return readEndUserSession(envKey, jar.get(sessionCookieName(envKey))?.value);
}

/**
 * The session, when it may be used: not while the environment requires a second factor the user has
 * not added yet (they may only add one, on /e/<env>). For tokens and the features.
 */
export async function usableEndUserSession(envKey: string) {
  const current = await currentEndUserSession(envKey);
  return current && !current.mustEnrol ? current : null;
}
