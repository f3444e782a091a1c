import "server-only";
import { cookies } from "next/headers";
import { readEndUserSession, sessionCookieName } from "@/lib/end-user/sessions";

/** The end user's live session in this environment, from the cookie (null when none). */
export async function currentEndUserSession(envKey: string) {
  const jar = await cookies();
  return readEndUserSession(envKey, jar.get(sessionCookieName(envKey))?.value);
}
