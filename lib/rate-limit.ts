import "server-only";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";

export type RateLimitResult = { allowed: boolean; remaining: number; retryAfterSeconds: number };

/**
 * A fixed-window counter in Postgres, so every app instance shares it: one upsert per request.
 * (rate-limiter-flexible would need a node-postgres pool beside our postgres.js one for the same
 * single statement.)
 */
export async function hitRateLimit(key: string, limit: number, windowSeconds: number): Promise<RateLimitResult> {
  const [row] = await getDb().execute<{ count: number; retry: number }>(sql`
    insert into rate_limits as r (key, window_start, count) values (${key}, now(), 1)
    on conflict (key) do update set
      count = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then 1 else r.count + 1 end,
      window_start = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then now() else r.window_start end
    returning count, ceil(extract(epoch from (window_start + make_interval(secs => ${windowSeconds}) - now())))::int as retry`);
  const count = row!.count;
  return { allowed: count <= limit, remaining: Math.max(limit - count, 0), retryAfterSeconds: Math.max(row!.retry, 1) };
}
