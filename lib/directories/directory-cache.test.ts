import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { decisionCache, setDecisionCacheEnabled } from "@/lib/access/decision-cache";
import { findEnvironmentByKey } from "@/lib/environments";
import { flushRequestLog, handleScim } from "@/lib/doors/scim/handler";
import { createEnvironments, realMemberCtx } from "@/test-support/fixtures";
import { authenticateDirectory, createDirectory, rotateDirectoryToken, setDirectoryStatus, updateDirectorySettings } from "./index";

// Every SCIM request starts with the directory's token check; with the decision cache live it is
// answered from memory, and a rotated token, a disabled directory or a changed setting reaches
// memory at commit (migration 0026's trigger). The door's own bookkeeping (last request, user
// count) does not evict it, and the list total is read fresh, not from the cached row.

beforeAll(async () => {
  await createEnvironments();
  setDecisionCacheEnabled(true);
  await decisionCache()!.whenLive();
});
afterAll(() => setDecisionCacheEnabled(false));

describe("directory token checks from memory", () => {
  it("serves the check from memory and forgets a rotated token and a disabled directory at commit", async () => {
    const owner = await realMemberCtx("owner");
    const env = (await findEnvironmentByKey("test"))!;
    const { directory, token } = await createDirectory(owner, { environmentId: env.id, name: "cached" });
    const cache = decisionCache()!;
    expect((await authenticateDirectory(directory.id, token))!.directory.patchAnswer).toBe("resource");
    const hits = cache.stats().hits;
    expect(await authenticateDirectory(directory.id, token)).not.toBeNull();
    expect(cache.stats().hits).toBe(hits + 1);

    await updateDirectorySettings(owner, directory.id, { patchAnswer: "no_content" });
    await cache.whenCaughtUp();
    expect((await authenticateDirectory(directory.id, token))!.directory.patchAnswer).toBe("no_content");

    const rotated = await rotateDirectoryToken(owner, directory.id);
    await cache.whenCaughtUp();
    expect(await authenticateDirectory(directory.id, token)).toBeNull();
    expect(await authenticateDirectory(directory.id, rotated.token)).not.toBeNull();

    await setDirectoryStatus(owner, directory.id, "disabled");
    await cache.whenCaughtUp();
    expect(await authenticateDirectory(directory.id, rotated.token)).toBeNull();
  });

  it("keeps the entry through the door's own bookkeeping, and lists count users fresh", async () => {
    const owner = await realMemberCtx("owner");
    const env = (await findEnvironmentByKey("test"))!;
    const { directory, token } = await createDirectory(owner, { environmentId: env.id, name: "bookkeeping" });
    const cache = decisionCache()!;
    const call = (method: string, path: string, body?: unknown) =>
      handleScim(
        new Request(`http://localhost/scim/v2/${directory.id}${path}`, { method, headers: { authorization: `Bearer ${token}`, "content-type": "application/scim+json" }, body: body ? JSON.stringify(body) : undefined }),
        directory.id,
        path.split("/").filter(Boolean),
      );
    expect((await call("GET", "/Users")).status).toBe(200);
    for (const n of [1, 2]) expect((await call("POST", "/Users", { userName: `u${n}@cache.example`, emails: [{ value: `u${n}@cache.example` }] })).status).toBe(201);
    await flushRequestLog();
    await cache.whenCaughtUp();
    const misses = cache.stats().misses;
    const list = (await (await call("GET", "/Users")).json()) as { totalResults: number };
    expect(list.totalResults).toBe(2);
    expect(cache.stats().misses).toBe(misses);
    const [row] = await getDb().execute<{ user_count: number; last_request_at: Date | null }>(sql`select user_count, last_request_at from directories where id = ${directory.id}`);
    expect(row!.user_count).toBe(2);
    expect(row!.last_request_at).not.toBeNull();
  });
});
