import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { and, eq } from "drizzle-orm";
import { getDb } from "@/db/client";
import { apiTokens, auditEvents, consoleMembers } from "@/db/schema";
import { decisionCache, setDecisionCacheEnabled } from "@/lib/access/decision-cache";
import { reactivateConsoleMember, removeConsoleMember, suspendConsoleMember } from "@/lib/console-members";
import { createUser } from "@/lib/users";
import { createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { restClient } from "@/test-support/rest-api";
import { authenticateApiToken, createApiToken } from "./index";

// A reviewer token acts for the console member who made it: it stops when they are suspended or
// removed (revoked in the same transaction, audited), whether the door reads tokens from the
// database or from memory. Service tokens (read, write, authz) are the account's and go on.

const REFUSED = { status: 401, json: { detail: "The API token is unknown, revoked or expired." } };
const { api } = restClient(() => "");

beforeAll(async () => {
  const env = await createEnvironments();
  await createUser(systemCtx, { name: "Pat Private", email: "pat.private@example.com", environmentIds: [env.prod.id] });
});

const revocations = async (tokenId: string) => getDb().select({ actorId: auditEvents.actorId, after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "api_token.revoke"), eq(auditEvents.targetId, tokenId)));

describe("tokens of a console member who leaves", () => {
  it("a suspended member's reviewer token stops at once and stays revoked after reactivation; the suspension is audited with it", async () => {
    const owner = await realMemberCtx("owner");
    const reviewer = await realMemberCtx("reviewer");
    const { token, record } = await createApiToken(reviewer, { name: "my reviewer token", scope: "reviewer" });
    const users = await api("GET", "/users", { token });
    expect(users.status).toBe(200);
    expect(users.json.data.map((u: { email: string }) => u.email)).toContain("pat.private@example.com");

    await suspendConsoleMember(owner, reviewer.actor.id!);
    for (const path of ["/users", "/audit-events", "/console-members"]) expect(await api("GET", path, { token })).toMatchObject(REFUSED);
    expect(await revocations(record.id)).toEqual([{ actorId: owner.actor.id, after: { reason: "The console member it acts for was suspended." } }]);
    const [suspension] = await getDb().select({ after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "console_member.suspend"), eq(auditEvents.targetId, reviewer.actor.id!)));
    expect(suspension!.after).toMatchObject({ status: "suspended", reviewerCredentialsRevoked: 1 });

    await reactivateConsoleMember(owner, reviewer.actor.id!);
    expect(await api("GET", "/users", { token })).toMatchObject(REFUSED);
  });

  it("a removed member's reviewer token stops; the service tokens they made go on", async () => {
    const owner = await realMemberCtx("owner");
    const admin = await realMemberCtx("admin");
    const reviewerToken = await createApiToken(admin, { name: "admin's reviewer token", scope: "reviewer" });
    const serviceToken = await createApiToken(admin, { name: "nightly export", scope: "read" });
    expect((await api("GET", "/users", { token: reviewerToken.token })).status).toBe(200);

    await removeConsoleMember(owner, admin.actor.id!);
    expect(await api("GET", "/users", { token: reviewerToken.token })).toMatchObject(REFUSED);
    expect(await revocations(reviewerToken.record.id)).toEqual([{ actorId: owner.actor.id, after: { reason: "The console member it acts for was removed." } }]);
    expect((await api("GET", "/users", { token: serviceToken.token })).status).toBe(200);
    const [service] = await getDb().select({ revokedAt: apiTokens.revokedAt }).from(apiTokens).where(eq(apiTokens.id, serviceToken.record.id));
    expect(service!.revokedAt).toBeNull();
  });

  it("a reviewer token is refused while its member is not active, even if it was not revoked (a member suspended by another path)", async () => {
    const reviewer = await realMemberCtx("reviewer");
    const { token } = await createApiToken(reviewer, { name: "kept", scope: "reviewer" });
    expect((await api("GET", "/users", { token })).status).toBe(200);
    await getDb().update(consoleMembers).set({ status: "suspended" }).where(eq(consoleMembers.id, reviewer.actor.id!));
    expect(await api("GET", "/users", { token })).toMatchObject(REFUSED);
  });

  describe("read from memory (the decision cache is live)", () => {
    beforeAll(async () => {
      setDecisionCacheEnabled(true);
      await decisionCache()!.whenLive();
    });
    afterAll(() => setDecisionCacheEnabled(false));

    it("a suspension reaches memory at its commit", async () => {
      const owner = await realMemberCtx("owner");
      const reviewer = await realMemberCtx("reviewer");
      const { token } = await createApiToken(reviewer, { name: "cached reviewer token", scope: "reviewer" });
      const cache = decisionCache()!;
      expect(await authenticateApiToken(token)).not.toBeNull();
      const hits = cache.stats().hits;
      expect(await authenticateApiToken(token)).not.toBeNull();
      expect(cache.stats().hits).toBeGreaterThan(hits);
      await suspendConsoleMember(owner, reviewer.actor.id!);
      await cache.whenCaughtUp();
      expect(await authenticateApiToken(token)).toBeNull();
    });
  });
});
