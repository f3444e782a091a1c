import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { expectFlushWaitsForEarlierWrite } from "@/test-support/table-lock";
import { flushRateLimits, hitRateLimitBatched, limitedAddress } from "./rate-limit";

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

describe("the address a per-address limit counts", () => {
  it("is an IPv4 address itself (a mapped one as IPv4), an IPv6 address's /64 however it is spelled, and 'unknown' for none", () => {
    expect(limitedAddress("203.0.113.7")).toBe("203.0.113.7");
    expect(limitedAddress("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(limitedAddress("2001:db8:1:2:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(limitedAddress("2001:0db8:0001:0002::1")).toBe("2001:db8:1:2::/64");
    expect(limitedAddress("2001:DB8:1:2::FFFF")).toBe("2001:db8:1:2::/64");
    expect(limitedAddress("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(limitedAddress("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
    expect(limitedAddress("::1")).toBe("0:0:0:0::/64");
    expect(limitedAddress("2001:db8:1:3::1")).not.toBe(limitedAddress("2001:db8:1:2::1"));
    expect(limitedAddress(undefined)).toBe("unknown");
    expect(limitedAddress("not an address")).toBe("not an address");
  });
});
