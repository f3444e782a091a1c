import "server-only";
import { isIP } from "node:net";
import { sql } from "drizzle-orm";
import { drainBeforeClose, getDb, getSql, writesInOrder } from "@/db/client";

export type RateLimitResult = { allowed: boolean; remaining: number; retryAfterSeconds: number };

/**
 * The client a per-address limit counts: an IPv4 address as it is (an IPv4-mapped IPv6 one as its
 * IPv4), an IPv6 address by its /64, the one network a subscriber or a rented server is given
 * (counted address by address, anyone with one would rotate through 2^64 of them). "unknown" when
 * there is none.
 */
export function limitedAddress(ip: string | null | undefined): string {
  if (!ip) return "unknown";
  const bare = ip.split("%")[0]!;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped) return mapped[1]!;
  if (isIP(bare) !== 6) return ip;
  const [head = "", tail] = bare.split("::");
  const front = head ? head.split(":") : [];
  const back = tail === undefined ? [] : tail ? tail.split(":") : [];
  // "::" stands for as many zero groups as the address lacks (an IPv4 tail is two groups, but only the first four count).
  const groups = tail === undefined ? front : [...front, ...Array<string>(Math.max(8 - front.length - back.length, 0)).fill("0"), ...back];
  return `${groups.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(":")}::/64`;
}

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

/** Gives back one hit of `key` (an attempt counted up front that turned out not to count). */
export async function refundRateLimit(key: string): Promise<void> {
  await getDb().execute(sql`update rate_limits set count = greatest(count - 1, 0) where key = ${key}`);
}

/** Forgets `key`'s window (its count starts again from zero). */
export async function resetRateLimit(key: string): Promise<void> {
  await getDb().execute(sql`delete from rate_limits where key = ${key}`);
}

// The batched counter, for the hottest doors (API tokens on every decision): each instance counts
// in memory and adds its count to the same Postgres row a few times a second, reading back the
// total every instance has added. Within one instance the count is exact; across instances a
// window may admit what the others counted since their last flush (a fraction of a second).
// shared: the total Postgres last returned (this instance's flushed counts included); inflight: a
// flush on its way; pending: counted since.
// Each window keeps its own length: a flush (the timer's, or a stop's for every key) applies it.
type LocalWindow = { shared: number; inflight: number; pending: number; endsAt: number; windowSeconds: number; timer?: ReturnType<typeof setTimeout> };
const windows = new Map<string, LocalWindow>();
const FLUSH_MS = 100;
// A flush returns once every count gathered before it is written, a timer's flush on its way too.
const written = writesInOrder();

function flushWindow(key: string): Promise<void> {
  const write = writeWindow(key);
  written(write);
  return write;
}

async function writeWindow(key: string): Promise<void> {
  const local = windows.get(key);
  if (!local || local.pending === 0) return;
  const { windowSeconds } = local;
  const delta = local.pending;
  local.pending = 0;
  local.inflight += delta;
  local.timer = undefined;
  let rows: { count: number; retry: number }[];
  try {
    rows = await getSql()<{ count: number; retry: number }[]>`
    insert into rate_limits as r (key, window_start, count) values (${key}, now(), ${delta})
    on conflict (key) do update set
      count = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then ${delta} else r.count + ${delta} end,
      window_start = case when r.window_start <= now() - make_interval(secs => ${windowSeconds}) then now() else r.window_start end
    returning count, ceil(extract(epoch from (window_start + make_interval(secs => ${windowSeconds}) - now())))::int as retry`;
  } catch (error) {
    // Not written: counted again at the next flush.
    local.inflight -= delta;
    local.pending += delta;
    throw error;
  }
  local.inflight -= delta;
  local.shared = rows[0]!.count;
  local.endsAt = Date.now() + Math.max(rows[0]!.retry, 1) * 1000;
}

/** Counts one request of `key` in memory (flushed within 100 ms); returns the window's count so far. */
export function hitRateLimitBatched(key: string, windowSeconds: number): { count: number; retryAfterSeconds: number } {
  const now = Date.now();
  let local = windows.get(key);
  if (!local) windows.set(key, (local = { shared: 0, inflight: 0, pending: 0, endsAt: now + windowSeconds * 1000, windowSeconds }));
  local.windowSeconds = windowSeconds;
  if (now >= local.endsAt) {
    // The window ended: Postgres starts a new one at the next flush.
    local.shared = 0;
    local.endsAt = now + windowSeconds * 1000;
  }
  local.pending++;
  local.timer ??= setTimeout(() => void flushWindow(key).catch((e: unknown) => console.error("[rate-limit] flush failed", (e as Error).message)), FLUSH_MS);
  local.timer.unref?.();
  return { count: local.shared + local.inflight + local.pending, retryAfterSeconds: Math.max(Math.ceil((local.endsAt - now) / 1000), 1) };
}

/** Writes every pending count now and waits for the flushes already on their way (tests; a graceful stop). */
export async function flushRateLimits(): Promise<void> {
  const flushes = [...windows].map(([key, local]) => {
    clearTimeout(local.timer);
    local.timer = undefined;
    return flushWindow(key);
  });
  await written();
  // A failed write is the caller's to know (its counts are counted again at the next flush).
  await Promise.all(flushes);
}
drainBeforeClose("batched rate limits", () => flushRateLimits());
