import "server-only";
import { and, eq, isNull } from "drizzle-orm";
import { getDb } from "@/db/client";
import { oauthConsents, sessions } from "@/db/schema";

/** Whether a grant's consent stands: not revoked, and its session not ended (signed out everywhere, access lost). */
export async function consentIsLive(environmentId: string, grantId: string): Promise<boolean> {
  const [row] = await getDb()
    .select({ id: oauthConsents.id })
    .from(oauthConsents)
    .innerJoin(sessions, eq(sessions.id, oauthConsents.sessionId))
    .where(and(eq(oauthConsents.environmentId, environmentId), eq(oauthConsents.grantId, grantId), isNull(oauthConsents.revokedAt), isNull(sessions.revokedAt)));
  return !!row;
}
