import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { expectFlushWaitsForEarlierWrite } from "@/test-support/table-lock";
import { flushRateLimits, hitRateLimitBatched } from "./rate-limit";

// The batched counter's flush: what a graceful stop and the tests rely on.

const countOf = async (key: string) => (await getDb().execute<{ count: number }>(sql`select count from rate_limits where key = ${key}`))[0]?.count;

describe("batched rate limit flush", () => {
  it("waits for the counts a flush started earlier is still writing", async () => {
    const key = `test:inflight:${crypto.randomUUID()}`;
    const countThree = () => {
      for (let i = 0; i < 3; i++) hitRateLimitBatched(key, 60);
    };
    await expectFlushWaitsForEarlierWrite("rate_limits", countThree, flushRateLimits);
    expect(await countOf(key)).toBe(3);
  });

  it("writes each key with its own window length", async () => {
    const key = `test:window:${crypto.randomUUID()}`;
    // A one-second window that ended four seconds ago: the next count starts a new one.
    await getDb().execute(sql`insert into rate_limits (key, window_start, count) values (${key}, now() - interval '5 seconds', 100)`);
    hitRateLimitBatched(key, 1);
    await flushRateLimits();
    expect(await countOf(key)).toBe(1);
  });
});
