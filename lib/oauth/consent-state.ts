import "server-only";
import { and, eq, isNull, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { environmentAuth, oauthConsents, sessions } from "@/db/schema";
import { mustEnrolSql } from "@/lib/end-user/sessions";

/**
 * Whether a grant's consent stands: not revoked, its session not ended (signed out everywhere,
 * access lost), and that session still one the environment accepts: a password session while the
 * environment requires a second factor the user has not added is not (the token route and the
 * consent page refuse it too; an app's refresh must not outlast the rule).
 */
export async function consentIsLive(environmentId: string, grantId: string): Promise<boolean> {
  const [row] = await getDb()
    .select({ id: oauthConsents.id })
    .from(oauthConsents)
    .innerJoin(sessions, eq(sessions.id, oauthConsents.sessionId))
    .leftJoin(environmentAuth, eq(environmentAuth.environmentId, oauthConsents.environmentId))
    .where(
      and(
        eq(oauthConsents.environmentId, environmentId),
        eq(oauthConsents.grantId, grantId),
        isNull(oauthConsents.revokedAt),
        isNull(sessions.revokedAt),
        sql`not ${mustEnrolSql()}`,
      ),
    );
  return !!row;
}
