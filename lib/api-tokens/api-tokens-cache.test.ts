import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { decisionCache, setDecisionCacheEnabled } from "@/lib/access/decision-cache";
import { findEnvironmentByKey } from "@/lib/environments";
import { flushRateLimits } from "@/lib/rate-limit";
import { createEnvironments, realMemberCtx } from "@/test-support/fixtures";
import { authenticateApiToken, createApiToken, revokeApiToken } from "./index";

// The machine doors' first lookups from memory (the decision cache's listener keeps them live):
// an API token by its hash, counted by the batched rate limiter, and an environment by its key.
// A revocation reaches memory at commit; nothing is served from memory while it cannot be trusted.

beforeAll(async () => {
  await createEnvironments();
  setDecisionCacheEnabled(true);
  await decisionCache()!.whenLive();
});
afterAll(() => setDecisionCacheEnabled(false));

/** Polls a condition (no fixed wait), failing after a generous deadline. */
async function until(condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setImmediate(r));
  }
}

const rateRow = async (id: string) => (await getDb().execute<{ count: number }>(sql`select count from rate_limits where key = ${`api:${id}`}`))[0]?.count;

describe("API tokens from memory", () => {
  it("serves a token from memory, counts every request exactly, and forgets it the moment it is revoked", async () => {
    const owner = await realMemberCtx("owner");
    const { token, record } = await createApiToken(owner, { name: "component", scope: "authz" });
    const cache = decisionCache()!;
    const counts: number[] = [];
    for (let i = 0; i < 5; i++) counts.push((await authenticateApiToken(token))!.count);
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    expect(cache.stats().hits).toBeGreaterThan(0);
    await flushRateLimits();
    expect(await rateRow(record.id)).toBe(5);
    await revokeApiToken(owner, record.id);
    await cache.whenCaughtUp();
    expect(await authenticateApiToken(token)).toBeNull();
  });

  it("reads the database while the listener is not confirmed (never a stale allow)", async () => {
    const owner = await realMemberCtx("owner");
    const { token, record } = await createApiToken(owner, { name: "other", scope: "read" });
    expect(await authenticateApiToken(token)).not.toBeNull();
    const cache = decisionCache()!;
    const pid = cache.stats().listenerPid!;
    // Revoke while the listener is gone: the revocation's message is lost with it.
    await getDb().execute(sql`select pg_terminate_backend(${pid})`);
    // (The listener notices at once here; one that dies silently is noticed by its heartbeat.)
    await until(() => !cache.stats().live);
    await revokeApiToken(owner, record.id);
    expect(await authenticateApiToken(token)).toBeNull();
    await cache.whenLive();
    expect(await authenticateApiToken(token)).toBeNull();
  });

  it("keeps environments by key in memory, and a rename flushes them", async () => {
    const dev = (await findEnvironmentByKey("dev"))!;
    expect((await findEnvironmentByKey("dev"))!.name).toBe(dev.name);
    await getDb().execute(sql`update environments set name = 'Development' where id = ${dev.id}`);
    await decisionCache()!.whenCaughtUp();
    expect((await findEnvironmentByKey("dev"))!.name).toBe("Development");
  });
});
