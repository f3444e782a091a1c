import { cookies } from "next/headers";
import { INTERACTION_COOKIE, type InteractionCookie } from "@/lib/oauth/consents";

/** The authorization server's cookie binding an interaction to the browser that started it (lib/oauth/consents.ts). */
export async function interactionCookie(): Promise<InteractionCookie> {
  const jar = await cookies();
  return { value: jar.get(INTERACTION_COOKIE)?.value, sig: jar.get(`${INTERACTION_COOKIE}.sig`)?.value };
}
