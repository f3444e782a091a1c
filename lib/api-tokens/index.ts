import "server-only";
import { decisionCache } from "@/lib/access/decision-cache";
import { hitRateLimitBatched } from "@/lib/rate-limit";
import { and, desc, eq, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, getSql, type Executor } from "@/db/client";
import { API_TOKEN_SCOPES, apiTokens, type ApiToken } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit, recordAuditMany } from "@/lib/audit/record";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironments } from "@/lib/environments";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

const PREFIX = "iamc_";


export const createApiTokenInput = z.object({
  name: z.string().trim().min(1, "Name the token.").max(100, "A name has at most 100 characters."),
  scope: z.enum(API_TOKEN_SCOPES, { error: "Choose read, write, authz or reviewer." }),
  // Empty: every environment.
  environmentIds: z.array(uuidSchema).max(100).default([]),
  expiresInDays: z.number().int().min(1).max(3650).nullable().default(null),
});

/** Creates an API token; the returned secret is shown once and only its hash is kept. */
export async function createApiToken(ctx: DomainContext, input: unknown): Promise<{ token: string; record: ApiToken }> {
  const data = parseInput(createApiTokenInput, input);
  if (data.scope === "reviewer") {
    // Any console member may make one for themselves: it reads what every role reads and decides only their own review items.
    if (ctx.actor.type !== "console_member") {
      throw new ValidationError("A reviewer token acts for the console member who makes it: create it signed in to the console (Settings → API tokens).", {
        scope: ["A reviewer token is made by a console member, for themselves."],
      });
    }
  } else {
    authorize(ctx.actor, "api_tokens", "write");
  }
  const token = newSecretToken(PREFIX);
  return inTransaction(async (tx) => {
    const envs = await requireEnvironments(tx, data.environmentIds);
    const [record] = await tx
      .insert(apiTokens)
      .values({
        name: data.name,
        tokenHash: hashToken(token),
        tokenHint: token.slice(0, PREFIX.length + 4),
        scope: data.scope,
        environmentIds: envs.length ? envs.map((e) => e.id) : null,
        createdBy: ctx.actor.type === "console_member" ? ctx.actor.id : null,
        expiresAt: data.expiresInDays ? sql`now() + make_interval(days => ${data.expiresInDays})` : null,
      })
      .returning();
    await recordAudit(tx, ctx, {
      action: "api_token.create",
      targetType: "api_token",
      targetId: record!.id,
      targetLabel: record!.name,
      after: { name: record!.name, scope: record!.scope, environments: envs.map((e) => e.key), expiresAt: record!.expiresAt },
    });
    return { token, record: record! };
  });
}

export async function revokeApiToken(ctx: DomainContext, tokenId: string): Promise<void> {
  const id = parseInput(uuidSchema, tokenId);
  // A member may revoke their own reviewer token; every other revocation needs api_tokens write.
  const [own] = await getDb().select({ createdBy: apiTokens.createdBy, scope: apiTokens.scope }).from(apiTokens).where(eq(apiTokens.id, id));
  const ownReviewerToken = own?.scope === "reviewer" && ctx.actor.type === "console_member" && own.createdBy === ctx.actor.id;
  if (!ownReviewerToken) authorize(ctx.actor, "api_tokens", "write");
  await inTransaction(async (tx) => {
    const [record] = await tx
      .update(apiTokens)
      .set({ revokedAt: sql`now()` })
      .where(sql`${apiTokens.id} = ${id} and ${apiTokens.revokedAt} is null`)
      .returning();
    if (!record) throw new NotFoundError("API token not found or already revoked.");
    await recordAudit(tx, ctx, { action: "api_token.revoke", targetType: "api_token", targetId: id, targetLabel: record.name });
  });
}

/**
 * Revokes the reviewer tokens a console member made: they act for the member, so they stop in the
 * transaction that suspends or removes them, or resets their password from a mailed link (account
 * recovery: a token made in a stolen session must not outlive it), with their sessions (they make
 * new ones). Service tokens (read, write, authz) are the account's, not the member's, and stay. Audited
 * one row per token; returns how many.
 */
export async function revokeTokensActingFor(tx: Executor, ctx: DomainContext, memberId: string, memberWas: "suspended" | "removed" | "reset"): Promise<number> {
  const revoked = await tx
    .update(apiTokens)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiTokens.createdBy, memberId), eq(apiTokens.scope, "reviewer"), isNull(apiTokens.revokedAt)))
    .returning({ id: apiTokens.id, name: apiTokens.name });
  await recordAuditMany(
    tx,
    ctx,
    revoked.map((t) => ({ action: "api_token.revoke", targetType: "api_token", targetId: t.id, targetLabel: t.name, after: { reason: memberWas === "reset" ? "The console member it acts for reset their password." : `The console member it acts for was ${memberWas}.` } })),
  );
  return revoked.length;
}

export async function listApiTokens(): Promise<Omit<ApiToken, "tokenHash">[]> {
  const rows = await getDb().select().from(apiTokens).orderBy(desc(apiTokens.createdAt)).limit(500);
  return rows.map(({ tokenHash: _hash, ...rest }) => rest);
}

type TokenRow = { id: string; name: string; scope: ApiToken["scope"]; environment_ids: string[] | null; expires_at: Date | null; created_by: string | null; member_email: string | null };

/** The actor of a token row: a reviewer-scoped token names the member it acts for. */
function tokenActor(t: Pick<TokenRow, "id" | "name" | "scope" | "environment_ids" | "created_by" | "member_email">): Actor {
  if (t.scope === "reviewer") {
    return { type: "api_token", id: t.id, label: `API token ${t.name} (for ${t.member_email ?? "a removed member"})`, scope: t.scope, environmentIds: t.environment_ids, createdBy: t.created_by };
  }
  return { type: "api_token", id: t.id, label: `API token ${t.name}`, scope: t.scope, environmentIds: t.environment_ids, createdBy: t.created_by };
}
// When each token's last-use stamp was last written by this instance (at most once a minute).
const lastUseStamped = new Map<string, number>();

/**
 * The actor behind a bearer token, or null (unknown, revoked, expired), and the token's request
 * count in the current one-minute window: one prepared statement (the token lookup and the
 * rate-limit upsert together), since every API request, decisions included, starts here.
 */
export async function authenticateApiToken(token: string, windowSeconds = 60): Promise<{ actor: Actor; count: number; retryAfterSeconds: number } | null> {
  if (!token.startsWith(PREFIX) || token.length > 200) return null;
  // From memory when the decision cache is live (a revocation reaches it at commit, over LISTEN),
  // counted by the batched limiter: no database round trip on the hot path.
  const cache = decisionCache();
  if (cache) {
    const hash = hashToken(token);
    const found = await cache.lookup("api-token", hash, (t: TokenRow) => [t.id], async () => {
      const [row] = await getSql()<TokenRow[]>`select t.id, t.name, t.scope, t.environment_ids, t.expires_at, t.created_by, m.email as member_email
        from api_tokens t left join console_members m on m.id = t.created_by
        where t.token_hash = ${hash} and t.revoked_at is null and (t.scope <> 'reviewer' or m.status = 'active')`;
      return row;
    });
    if (found !== null) {
      if (!found || (found.expires_at && new Date(found.expires_at).getTime() <= Date.now())) return null;
      const { count, retryAfterSeconds } = hitRateLimitBatched(`api:${found.id}`, windowSeconds);
      const stamped = lastUseStamped.get(found.id) ?? 0;
      if (Date.now() - stamped > 60_000) {
        lastUseStamped.set(found.id, Date.now());
        await getDb().update(apiTokens).set({ lastUsedAt: sql`now()` }).where(eq(apiTokens.id, found.id));
      }
      return { actor: tokenActor(found), count, retryAfterSeconds };
    }
  }
  const pg = getSql();
  const [record] = await pg<(Omit<TokenRow, "expires_at"> & { stale: boolean; count: number; retry: number })[]>`
    with t as (
      select a.id, a.name, a.scope, a.environment_ids, a.created_by, m.email as member_email, (a.last_used_at is null or a.last_used_at < now() - interval '1 minute') as stale
      from api_tokens a left join console_members m on m.id = a.created_by
      where a.token_hash = ${hashToken(token)} and a.revoked_at is null and (a.expires_at is null or a.expires_at > now())
        -- A reviewer token acts for its member: only while they are an active member (revokeTokensActingFor).
        and (a.scope <> 'reviewer' or m.status = 'active')),
    hit as (
      insert into rate_limits as r (key, window_start, count) select 'api:' || t.id, now(), 1 from t
      on conflict (key) do update set
        count = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then 1 else r.count + 1 end,
        window_start = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then now() else r.window_start end
      returning count, ceil(extract(epoch from (window_start + make_interval(secs => ${windowSeconds}) - now())))::int as retry)
    select t.*, hit.count, hit.retry from t cross join hit`;
  if (!record) return null;
  // Last use, at most once a minute per token.
  if (record.stale) await getDb().update(apiTokens).set({ lastUsedAt: sql`now()` }).where(eq(apiTokens.id, record.id));
  return {
    actor: tokenActor(record),
    count: record.count,
    retryAfterSeconds: Math.max(record.retry, 1),
  };
}
