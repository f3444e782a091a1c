import "server-only";
import { and, eq, gt, isNull, lt, or, sql } from "drizzle-orm";
import type { Adapter, AdapterPayload } from "oidc-provider";
import { getDb } from "@/db/client";
import { oauthRecords } from "@/db/schema";

// oidc-provider's storage (its Adapter interface) in Postgres: one row per record, scoped to the
// environment whose authorization server made it (a client registered in DEV is unknown to PROD).
// Expired rows read as absent; a consumed one (an authorization code, a rotated refresh token)
// reads with `consumed`, which the library uses to refuse a second use and revoke the family.

export function adapterFor(environmentId: string) {
  return class PostgresAdapter implements Adapter {
    constructor(readonly model: string) {}

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const values = {
        environmentId,
        model: this.model,
        id,
        payload: payload as Record<string, unknown>,
        grantId: payload.grantId ?? null,
        uid: payload.uid ?? null,
        userCode: payload.userCode ?? null,
        expiresAt: expiresIn ? sql`now() + make_interval(secs => ${expiresIn})` : null,
      };
      await getDb()
        .insert(oauthRecords)
        .values(values)
        .onConflictDoUpdate({
          target: [oauthRecords.environmentId, oauthRecords.model, oauthRecords.id],
          set: { payload: values.payload, grantId: values.grantId, uid: values.uid, userCode: values.userCode, expiresAt: values.expiresAt },
        });
    }

    private async findWhere(condition: ReturnType<typeof eq>): Promise<AdapterPayload | undefined> {
      const [row] = await getDb()
        .select({ payload: oauthRecords.payload, consumedAt: oauthRecords.consumedAt })
        .from(oauthRecords)
        .where(and(eq(oauthRecords.environmentId, environmentId), eq(oauthRecords.model, this.model), condition, or(isNull(oauthRecords.expiresAt), gt(oauthRecords.expiresAt, sql`now()`))))
        .limit(1);
      if (!row) return undefined;
      return { ...row.payload, ...(row.consumedAt ? { consumed: Math.floor(row.consumedAt.getTime() / 1000) } : {}) } as AdapterPayload;
    }

    find(id: string) {
      return this.findWhere(eq(oauthRecords.id, id));
    }

    findByUid(uid: string) {
      return this.findWhere(eq(oauthRecords.uid, uid));
    }

    findByUserCode(userCode: string) {
      return this.findWhere(eq(oauthRecords.userCode, userCode));
    }

    // Once only, atomically: the library reads `consumed` some reads before it consumes, so two
    // requests with the same refresh token (or code) could both pass its check and fork the chain.
    // The second to get here is the replay the library would have caught: it fails, and the whole
    // grant goes (its tokens and the grant itself), as the library does for a reused refresh token.
    async consume(id: string): Promise<void> {
      const where = and(eq(oauthRecords.environmentId, environmentId), eq(oauthRecords.model, this.model), eq(oauthRecords.id, id));
      const consumed = await getDb().update(oauthRecords).set({ consumedAt: sql`now()` }).where(and(where, isNull(oauthRecords.consumedAt))).returning({ id: oauthRecords.id });
      if (consumed.length) return;
      const [record] = await getDb().select({ grantId: oauthRecords.grantId }).from(oauthRecords).where(where);
      if (record?.grantId) {
        await getDb()
          .delete(oauthRecords)
          .where(and(eq(oauthRecords.environmentId, environmentId), or(eq(oauthRecords.grantId, record.grantId), and(eq(oauthRecords.model, "Grant"), eq(oauthRecords.id, record.grantId)))));
      }
      const { errors } = await import("oidc-provider");
      throw new errors.InvalidGrant(`${this.model === "RefreshToken" ? "refresh token" : "authorization code"} already used`);
    }

    async destroy(id: string): Promise<void> {
      await getDb().delete(oauthRecords).where(and(eq(oauthRecords.environmentId, environmentId), eq(oauthRecords.model, this.model), eq(oauthRecords.id, id)));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await getDb().delete(oauthRecords).where(and(eq(oauthRecords.environmentId, environmentId), eq(oauthRecords.grantId, grantId)));
    }
  };
}

/** Hourly upkeep (lib/sso/maintenance.ts): records expired for a day go; returns how many. */
export async function pruneOAuthRecords(): Promise<number> {
  const gone = await getDb().delete(oauthRecords).where(lt(oauthRecords.expiresAt, sql`now() - interval '1 day'`)).returning({ id: oauthRecords.id });
  return gone.length;
}
