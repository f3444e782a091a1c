import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { createApiToken } from "@/lib/api-tokens";
import { addMembers, createGroup } from "@/lib/groups";
import { createUser } from "@/lib/users";
import { validateAgainstOpenApi, restClient } from "@/test-support/rest-api";
import type { HttpMethod } from "./v1";

// The access reviews over REST: the same domain calls as the console (scopes, recurrence, closing).

let env: { dev: Environment; test: Environment; prod: Environment };
let ownerId: string;
const tokens = { write: "", read: "", devWrite: "" };
beforeAll(async () => {
  env = await createEnvironments();
  const owner = await realMemberCtx("owner");
  ownerId = owner.actor.id!;
  tokens.write = (await createApiToken(owner, { name: "writer", scope: "write" })).token;
  tokens.read = (await createApiToken(owner, { name: "reader", scope: "read" })).token;
  tokens.devWrite = (await createApiToken(owner, { name: "dev writer", scope: "write", environmentIds: [env.dev.id] })).token;
});

const client = restClient(() => tokens.write);
const recorded = client.recorded;
const api = (method: HttpMethod, path: string, body?: unknown, token = tokens.write) => client.api(method, path, { body, token });

const dueAt = () => new Date(Date.now() + 5 * 86_400_000).toISOString();

describe("access reviews over REST", () => {
  it("starts a recurring environment-access review, reads it with its items, closes it", async () => {
    const user = await createUser(systemCtx, { name: "Rest user", email: `rest.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [env.prod.id] });
    const created = await api("POST", "/access-reviews", { environment: "prod", name: "Who may enter PROD", scope: "environment_access", reviewerIds: [ownerId], dueAt: dueAt(), recurrenceMonths: 6 });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ environment: "prod", scope: "environment_access", scopeIds: [], recurrenceMonths: 6, status: "open", total: 1, reviewers: [{ id: ownerId }] });
    const read = await api("GET", `/access-reviews/${created.json.id}`, undefined, tokens.read);
    expect(read.json.items).toEqual([expect.objectContaining({ kind: "access", userId: user.id, decision: null, exclusion: null })]);
    expect((await api("GET", "/access-reviews?environment=prod", undefined, tokens.read)).json.data.map((r: { id: string }) => r.id)).toContain(created.json.id);
    const closed = await api("POST", `/access-reviews/${created.json.id}/close`);
    expect(closed.json).toMatchObject({ revoked: 0, undecided: 1, excluded: 0 });
  });

  it("refuses bad input with field errors, a read token's writes and another environment's token, writing nothing", async () => {
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Rest ${crypto.randomUUID().slice(0, 6)}` });
    const u = await createUser(systemCtx, { name: "m", email: `m.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [env.prod.id] });
    await addMembers(systemCtx, { groupId: group.id, userIds: [u.id] });
    const before = await countRows("access_reviews");
    const bad = await api("POST", "/access-reviews", { environment: "prod", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: dueAt(), recurrenceMonths: 13 });
    expect(bad.status).toBe(400);
    expect(bad.json.errors).toEqual({ recurrenceMonths: ["Repeat every 1 to 12 months."] });
    // Dates Postgres could not hold (a 500 before), days that are not on the calendar, and what is no date.
    const badDate = "Enter a due date (a day of the calendar, as 2027-03-31, up to year 9999).";
    for (const due of ["+010000-01-01T00:00:00Z", 253402300800000, "2027-02-30", "2030", "2027-13-01", "2100-02-29", true, null]) {
      const refused = await api("POST", "/access-reviews", { environment: "prod", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: due });
      expect([String(due), refused.status, refused.json.errors]).toEqual([String(due), 400, { dueAt: [badDate] }]);
    }
    for (const months of [true, [3], "3 months"]) {
      const refused = await api("POST", "/access-reviews", { environment: "prod", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: dueAt(), recurrenceMonths: months });
      expect([JSON.stringify(months), refused.status, refused.json.errors]).toEqual([JSON.stringify(months), 400, { recurrenceMonths: ["Repeat every 1 to 12 months."] }]);
    }
    const noEnv = await api("POST", "/access-reviews", { environment: "nope", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: dueAt() });
    expect([noEnv.status, noEnv.json.detail]).toEqual([404, "No environment “nope”."]);
    const readOnly = await api("POST", "/access-reviews", { environment: "prod", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: dueAt() }, tokens.read);
    expect(readOnly.status).toBe(403);
    const outside = await api("POST", "/access-reviews", { environment: "prod", name: "x", scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: dueAt() }, tokens.devWrite);
    expect(outside.status).toBe(403);
    expect(outside.json.detail).toBe("This change touches an environment outside your scope.");
    expect(await countRows("access_reviews")).toBe(before);
    // A leap day that exists, a date alone, and a time with an offset are dates.
    // The next leap day (in the future whenever this runs).
    const leapYear = [1, 2, 3, 4, 5].map((n) => new Date().getUTCFullYear() + n).find((y) => new Date(Date.UTC(y, 1, 29)).getUTCDate() === 29)!;
    for (const due of [`${leapYear}-02-29`, "9999-12-31", `${new Date().getUTCFullYear() + 1}-06-30T17:00:00+05:30`]) {
      const ok = await api("POST", "/access-reviews", { environment: "prod", name: `Due ${due}`, scope: "groups", scopeIds: [group.id], reviewerIds: [ownerId], dueAt: due, recurrenceMonths: "2" });
      expect([due, ok.status, ok.json.dueAt]).toEqual([due, 201, new Date(due.length === 10 ? `${due}T00:00:00Z` : due).toISOString()]);
    }
    expect((await api("GET", `/access-reviews/${crypto.randomUUID()}`)).status).toBe(404);
    expect((await api("POST", `/membership-exclusions/${crypto.randomUUID()}/lift`)).status).toBe(404);
  });

  it("lifts a PROD exclusion with a token covering PROD, not with a DEV one nor a read-only one", async () => {
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Lifted ${crypto.randomUUID().slice(0, 6)}` });
    const u = await createUser(systemCtx, { name: "x", email: `x.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [env.prod.id] });
    const [row] = await getDb().execute<{ id: string }>(sql`insert into membership_exclusions (kind, environment_id, user_id, group_id, source, reason, created_by)
      values ('member', ${env.prod.id}, ${u.id}, ${group.id}, 'scim', 'Left', 'test') returning id`);
    const dev = await api("POST", `/membership-exclusions/${row!.id}/lift`, undefined, tokens.devWrite);
    expect([dev.status, dev.json.detail]).toEqual([403, "This change touches an environment outside your scope."]);
    expect((await api("POST", `/membership-exclusions/${row!.id}/lift`, undefined, tokens.read)).status).toBe(403);
    expect((await api("POST", `/membership-exclusions/${row!.id}/lift`)).json).toEqual({ lifted: true });
    const again = await api("POST", `/membership-exclusions/${row!.id}/lift`);
    expect([again.status, again.json.detail]).toEqual([409, "This exclusion is already lifted."]);
  });

  it("a reviewer-scoped token reads the trail and reviews, decides its member's items, and nothing else", async () => {
    const reviewer = await realMemberCtx("reviewer");
    const other = await realMemberCtx("reviewer");
    const token = (await createApiToken(reviewer, { name: "auditor laptop", scope: "reviewer" })).token;
    const othersToken = (await createApiToken(other, { name: "other", scope: "reviewer" })).token;
    const devOnly = (await createApiToken(reviewer, { name: "dev only", scope: "reviewer", environmentIds: [env.dev.id] })).token;
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: `Reviewed ${crypto.randomUUID().slice(0, 6)}` });
    const u = await createUser(systemCtx, { name: "r", email: `r.${crypto.randomUUID().slice(0, 6)}@example.com`, environmentIds: [env.prod.id] });
    await addMembers(systemCtx, { groupId: group.id, userIds: [u.id] });
    const review = (await api("POST", "/access-reviews", { environment: "prod", name: "Quarterly", scope: "groups", scopeIds: [group.id], reviewerIds: [reviewer.actor.id], dueAt: dueAt() })).json;
    const items = (await api("GET", `/access-reviews/${review.id}`, undefined, token)).json.items;
    expect(items).toHaveLength(1);
    expect((await api("GET", "/audit-events?action=access_review.", undefined, token)).status).toBe(200);

    // Writes other than its member's decisions are refused with the reason.
    const write = await api("POST", "/groups", { environment: "prod", name: "Sneaky" }, token);
    expect([write.status, write.json.detail]).toEqual([403, "This API token is reviewer-scoped: it reads, and decides the review items of the member it acts for."]);
    expect((await api("POST", `/access-reviews/${review.id}/close`, undefined, token)).json.detail).toBe("This API token is reviewer-scoped: it reads, and decides the review items of the member it acts for.");
    // Another reviewer's token, a DEV-only token and a read token cannot decide these items.
    const notAssigned = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "keep" }, othersToken);
    expect([notAssigned.status, notAssigned.json.detail]).toEqual([403, "Only this review's assigned reviewers can decide its items."]);
    const dev = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "keep" }, devOnly);
    expect([dev.status, dev.json.detail]).toEqual([403, "This change touches an environment outside your scope."]);
    expect((await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "keep" }, tokens.read)).json.detail).toBe("This API token is read-only.");
    const writer = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "keep" });
    expect([writer.status, writer.json.detail]).toEqual([403, "Only this review's assigned reviewers can decide its items: use a reviewer token made by one of them."]);
    const noComment = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "revoke" }, token);
    expect(noComment.status).toBe(400);

    const decided = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "revoke", comment: "Left the team" }, token);
    expect([decided.status, decided.json]).toEqual([200, { decided: 1 }]);
    const after = (await api("GET", `/access-reviews/${review.id}`, undefined, tokens.read)).json.items[0];
    expect(after).toMatchObject({ decision: "revoke", comment: "Left the team", decidedBy: expect.stringMatching(/^API token auditor laptop \(for reviewer-.+@example\.com\)$/) });

    // Once its member is suspended, the token is revoked with them: it decides (and reads) nothing.
    const { suspendConsoleMember } = await import("@/lib/console-members");
    await suspendConsoleMember(systemCtx, reviewer.actor.id!);
    const suspended = await api("POST", `/access-reviews/${review.id}/decisions`, { itemIds: [items[0].id], decision: "keep" }, token);
    expect([suspended.status, suspended.json.detail]).toEqual([401, "The API token is unknown, revoked or expired."]);
  });

  it("a reviewer token is made by a console member for themselves, never by the system; a reviewer revokes their own only", async () => {
    const refused = await createApiToken(systemCtx, { name: "pipeline", scope: "reviewer" }).catch((e) => e);
    expect([refused.status, refused.fieldErrors.scope]).toEqual([400, ["A reviewer token is made by a console member, for themselves."]]);
    const reviewer = await realMemberCtx("reviewer");
    const other = await realMemberCtx("reviewer");
    const mine = await createApiToken(reviewer, { name: "mine", scope: "reviewer" });
    const theirs = await createApiToken(other, { name: "theirs", scope: "reviewer" });
    expect((await createApiToken(reviewer, { name: "more", scope: "read" }).catch((e) => e)).message).toBe("A reviewer cannot change api tokens.");
    const { revokeApiToken } = await import("@/lib/api-tokens");
    expect((await revokeApiToken(reviewer, theirs.record.id).catch((e) => e)).message).toBe("A reviewer cannot change api tokens.");
    await revokeApiToken(reviewer, mine.record.id);
    expect((await api("GET", "/audit-events", undefined, mine.token)).json.detail).toBe("The API token is unknown, revoked or expired.");
    expect((await api("GET", "/audit-events", undefined, theirs.token)).status).toBe(200);
  });
});

describe("the recorded answers match the served OpenAPI document", () => {
  it("validates every answer recorded above against its operation's response schema", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded, { skipUnknownPaths: true });
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});
