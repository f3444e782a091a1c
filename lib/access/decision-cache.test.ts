import { afterAll, beforeAll, describe, expect, it } from "vitest";
import postgres from "postgres";
import { getDb, getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createEnvironments, systemCtx } from "@/test-support/fixtures";
import { createEndUserSession, endEndUserSession, signOutEverywhere } from "@/lib/end-user/sessions";
import { addMembers, createGroup, removeMembers } from "@/lib/groups";
import { createUser, reactivateUser, revokeEnvironment, suspendUser } from "@/lib/users";
import { DECISIONS_CHANNEL, DecisionCache, decisionCache, setDecisionCacheEnabled } from "./decision-cache";
import { addGrants, listGrants, removeGrant } from "./grants";
import { decide, entitlementsOf, type DecideInput, type Facts } from "./policy";
import { createResource } from "./resources";

// Decisions from memory (lib/access/decision-cache.ts) against the same decisions from the
// database, kept live by the triggers of migrations 0023 and 0024 over LISTEN/NOTIFY. Nothing here sleeps:
// a change is followed by `whenCaughtUp()` (a marker sent after the commit has come back), and a
// condition is polled with a deadline, yielding to I/O between polls.

let env: { dev: Environment; test: Environment; prod: Environment };
let cache: DecisionCache;
let other: DecisionCache;
const prod = () => ({ id: env.prod.id, key: env.prod.key });

async function until(check: () => Promise<boolean> | boolean, what: string, timeoutMs = 10_000): Promise<number> {
  const start = performance.now();
  while (!(await check())) {
    if (performance.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}.`);
    await new Promise((r) => setImmediate(r));
  }
  return performance.now() - start;
}

beforeAll(async () => {
  env = await createEnvironments();
  setDecisionCacheEnabled(true);
  cache = decisionCache()!;
  other = new DecisionCache(process.env.DATABASE_URL!);
  await Promise.all([cache.whenLive(), other.whenLive()]);
});
afterAll(async () => {
  await other.stop();
  setDecisionCacheEnabled(false);
});

describe("decisions from memory", () => {
  it("equal the database's for every kind of case, on a miss and on a hit", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Cache genie" });
    const second = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Second genie" });
    const payroll = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Cache payroll" });
    const mk = (name: string, envs = [env.prod.id]) => createUser(systemCtx, { name, email: `${name}@cache.example`, environmentIds: envs });
    const [ana, bo, cy, dee, eve, fay] = await Promise.all(["ana", "bo", "cy", "dee", "eve", "fay"].map((n) => mk(n, n === "eve" ? [env.dev.id, env.prod.id] : [env.prod.id])));
    await addMembers(systemCtx, { groupId: payroll.id, userIds: [ana!.id, dee!.id, fay!.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [payroll.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: second.id, userIds: [bo!.id, eve!.id] });
    // Eve keeps her grant after leaving PROD (a grant names only users of its environment).
    await revokeEnvironment(systemCtx, { userId: eve!.id, environmentId: env.prod.id });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", userIds: [cy!.id] });
    await suspendUser(systemCtx, dee!.id);
    const open = await createEndUserSession(getDb(), { userId: fay!.id, environmentId: env.prod.id, method: "password" });
    const ended = await createEndUserSession(getDb(), { userId: fay!.id, environmentId: env.prod.id, method: "password" });
    await endEndUserSession(ended.token);
    const foreign = await createEndUserSession(getDb(), { userId: ana!.id, environmentId: env.prod.id, method: "password" });
    const issuedAt = Math.floor(Date.now() / 1000) - 60;
    const watermarked = await mk("gil");
    await addMembers(systemCtx, { groupId: payroll.id, userIds: [watermarked.id] });
    await signOutEverywhere(systemCtx, watermarked.id);
    await cache.whenCaughtUp();

    const base = { environment: prod(), feature: "agent_studio" as const };
    const cases: [string, DecideInput, string[]][] = [
      ["allowed through a group", { ...base, user: { id: ana!.id }, resources: [genie.id] }, ["granted"]],
      ["allowed by a direct grant", { ...base, user: { id: bo!.id }, resources: [second.id, genie.id] }, ["granted", "no_grant"]],
      ["allowed feature-wide", { ...base, user: { id: cy!.id }, resources: [genie.id, second.id, null] }, ["granted", "granted", "granted"]],
      ["by email, in another case", { ...base, user: { email: "ANA@cache.example" }, resources: [genie.id, null] }, ["granted", "no_grant"]],
      ["suspended", { ...base, user: { id: dee!.id }, resources: [genie.id] }, ["user_suspended"]],
      ["no environment access", { ...base, user: { id: eve!.id }, resources: [second.id] }, ["no_environment_access"]],
      ["the token's session is open", { ...base, user: { id: fay!.id }, resources: [genie.id], sessionId: open.session.id, tokenIssuedAt: issuedAt }, ["granted"]],
      ["the token's session was signed out", { ...base, user: { id: fay!.id }, resources: [genie.id], sessionId: ended.session.id }, ["token_revoked"]],
      ["a session of another user", { ...base, user: { id: fay!.id }, resources: [genie.id], sessionId: foreign.session.id }, ["token_revoked"]],
      ["signed out everywhere after the token", { ...base, user: { id: watermarked.id }, resources: [genie.id], tokenIssuedAt: issuedAt }, ["token_revoked"]],
      ["unknown and malformed resources", { ...base, user: { id: ana!.id }, resources: [crypto.randomUUID(), "not-a-uuid", genie.id] }, ["resource_not_found", "resource_not_found", "granted"]],
      ["a resource of another feature", { ...base, feature: "mcp", user: { id: ana!.id }, resources: [genie.id] }, ["resource_not_found"]],
      ["unknown user", { ...base, user: { email: "nobody@cache.example" }, resources: [genie.id] }, ["user_not_found"]],
      ["unknown user id", { ...base, user: { id: crypto.randomUUID() }, resources: [genie.id] }, ["user_not_found"]],
    ];
    for (const [what, input, reasons] of cases) {
      const fromDb = await decide(input, "database");
      expect([what, fromDb.map((d) => d.reason)]).toEqual([what, reasons]);
      const miss = await decide(input, cache);
      const hitsBefore = cache.stats().hits;
      const hit = await decide(input, cache);
      expect([what, miss]).toEqual([what, fromDb]);
      expect([what, hit]).toEqual([what, fromDb]);
      // Answered from memory the second time, but for what is never remembered (an unknown user, a
      // session that is not the user's: a new row sends no message).
      const remembered = reasons[0] !== "user_not_found" && input.sessionId !== foreign.session.id;
      expect([what, cache.stats().hits - hitsBefore]).toEqual([what, remembered ? 1 : 0]);
    }
  });

  it("deny after a suspension, an access revocation, a group removal and a removed grant, once the change has arrived", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Live genie" });
    const ops = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Live ops" });
    const users = await Promise.all(["s", "r", "g", "x"].map((n) => createUser(systemCtx, { name: n, email: `live-${n}@cache.example`, environmentIds: [env.prod.id] })));
    const [suspended, revoked, removed, ungranted] = users as [(typeof users)[number], (typeof users)[number], (typeof users)[number], (typeof users)[number]];
    await addMembers(systemCtx, { groupId: ops.id, userIds: users.map((u) => u.id) });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [ops.id] });
    await cache.whenCaughtUp();
    const ask = async (userId: string) => (await decide({ environment: prod(), user: { id: userId }, feature: "agent_studio", resources: [genie.id] }, cache))[0]!;
    for (const u of users) await ask(u.id); // warm
    for (const u of users) expect(await ask(u.id)).toMatchObject({ allow: true, reason: "granted" });

    const changes: [string, () => Promise<unknown>, string, string[]][] = [
      ["suspension", () => suspendUser(systemCtx, suspended.id), "user_suspended", [suspended.id]],
      ["access revocation", () => revokeEnvironment(systemCtx, { userId: revoked.id, environmentId: env.prod.id }), "no_environment_access", [revoked.id]],
      ["group removal", () => removeMembers(systemCtx, { groupId: ops.id, userIds: [removed.id] }), "no_grant", [removed.id]],
      ["removed grant", async () => removeGrant(systemCtx, (await listGrants({ environmentId: env.prod.id, groupId: ops.id }))[0]!.id), "no_grant", [ungranted.id, suspended.id]],
    ];
    for (const [what, change, reason, affected] of changes) {
      await change();
      await cache.whenCaughtUp();
      for (const id of affected) {
        const decision = await ask(id);
        expect([what, decision.allow, decision.reason]).toEqual([what, false, reason === "no_grant" && id === suspended.id ? "user_suspended" : reason]);
        expect([what, decision]).toEqual([what, (await decide({ environment: prod(), user: { id }, feature: "agent_studio", resources: [genie.id] }, "database"))[0]]);
      }
    }
    expect(cache.stats()).toMatchObject({ live: true, bypassed: 0 });
  });

  it("a token's entitlements come from memory and follow membership and grant changes", async () => {
    const mcp = await createResource(systemCtx, { environmentId: env.test.id, feature: "mcp", name: "Ent MCP" });
    const team = await createGroup(systemCtx, { environmentId: env.test.id, name: "Ent team" });
    const u = await createUser(systemCtx, { name: "Ent", email: "ent@cache.example", environmentIds: [env.test.id] });
    await addMembers(systemCtx, { groupId: team.id, userIds: [u.id] });
    await addGrants(systemCtx, { environmentId: env.test.id, feature: "mcp", resourceId: mcp.id, groupIds: [team.id] });
    await cache.whenCaughtUp();
    const fromDb = () => entitlementsOf(env.test.id, u.id, getDb());
    expect(await entitlementsOf(env.test.id, u.id)).toEqual(await fromDb());
    const hits = cache.stats().hits;
    expect(await entitlementsOf(env.test.id, u.id)).toEqual({ groups: ["Ent team", "Everyone"], entitlements: { mcp: [mcp.id] } });
    expect(cache.stats().hits).toBe(hits + 1);
    await removeMembers(systemCtx, { groupId: team.id, userIds: [u.id] });
    await cache.whenCaughtUp();
    expect(await entitlementsOf(env.test.id, u.id)).toEqual({ groups: ["Everyone"], entitlements: {} });
    await addGrants(systemCtx, { environmentId: env.test.id, feature: "workato_go", userIds: [u.id] });
    await cache.whenCaughtUp();
    expect(await entitlementsOf(env.test.id, u.id)).toEqual({ groups: ["Everyone"], entitlements: { workato_go: ["*"] } });
  });

  it("a fill that read the database before an invalidation arrived is not kept", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Race genie" });
    const u = await createUser(systemCtx, { name: "Race", email: "race@cache.example", environmentIds: [env.prod.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, userIds: [u.id] });
    const [grant] = await listGrants({ environmentId: env.prod.id, userId: u.id });
    await cache.whenCaughtUp();
    const before: Facts = {
      id: u.id, email: u.email, status: "active", revoked_before: null, has_access: true, session_open: null,
      resources: [{ id: genie.id, name: genie.name }],
      grants: [{ id: grant!.id, resource_id: genie.id, user_id: u.id, group_id: null, group_name: null }],
    };
    // The load read "active", then the suspension commits and its message arrives before the fill stores.
    const q = { environmentId: env.prod.id, user: { id: u.id }, feature: "agent_studio" as const, resourceIds: [genie.id], sessionId: null };
    const raced = await cache.facts(q, async () => {
      await suspendUser(systemCtx, u.id);
      await cache.whenCaughtUp();
      return before;
    });
    expect(raced?.status).toBe("active"); // that one request saw the database as it was when it read
    const [next] = await decide({ environment: prod(), user: { id: u.id }, feature: "agent_studio", resources: [genie.id] }, cache);
    expect(next).toMatchObject({ allow: false, reason: "user_suspended" });
  });
});

describe("two instances", () => {
  it("the other instance denies after a change committed here, within milliseconds", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Two genie" });
    const u = await createUser(systemCtx, { name: "Two", email: "two@cache.example", environmentIds: [env.prod.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, userIds: [u.id] });
    await other.whenCaughtUp();
    const input = { environment: prod(), user: { id: u.id }, feature: "agent_studio" as const, resources: [genie.id] };
    const lags: number[] = [];
    for (let i = 0; i < 10; i++) {
      await until(async () => (await decide(input, other))[0]!.allow, "the other instance to allow");
      await decide(input, other); // from memory
      await suspendUser(systemCtx, u.id);
      lags.push(await until(async () => (await decide(input, other))[0]!.reason === "user_suspended", "the other instance to deny"));
      await reactivateUser(systemCtx, u.id);
    }
    lags.sort((a, b) => a - b);
    console.log(`commit → denial on the other instance: median ${lags[5]!.toFixed(2)} ms, max ${lags[9]!.toFixed(2)} ms`);
    expect(lags[9]).toBeLessThan(1_000);
    expect(other.stats().hits).toBeGreaterThan(0);
  });
});

describe("when the listener is lost", () => {
  it("decisions read the database until the listener is back and the memory cleared", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = new DecisionCache(process.env.DATABASE_URL!, { beforeReconnect: () => gate });
    try {
      await held.whenLive();
      const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Lost genie" });
      const u = await createUser(systemCtx, { name: "Lost", email: "lost@cache.example", environmentIds: [env.prod.id] });
      await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, userIds: [u.id] });
      await held.whenCaughtUp();
      const input = { environment: prod(), user: { id: u.id }, feature: "agent_studio" as const, resources: [genie.id] };
      await decide(input, held);
      const hits = held.stats().hits;
      expect((await decide(input, held))[0]!.allow).toBe(true);
      expect(held.stats().hits).toBe(hits + 1);

      const pid = held.stats().listenerPid!;
      const [backend] = await getSql()<{ application_name: string }[]>`select application_name from pg_stat_activity where pid = ${pid}`;
      expect(backend?.application_name).toBe("iam-decisions-listener");
      await getSql()`select pg_terminate_backend(${pid})`;
      await until(() => !held.stats().live, "the cache to notice the lost listener");

      // Nobody hears this suspension; the next decision reads the database.
      await suspendUser(systemCtx, u.id);
      const bypassed = held.stats().bypassed;
      expect((await decide(input, held))[0]).toMatchObject({ allow: false, reason: "user_suspended" });
      expect(held.stats()).toMatchObject({ live: false, bypassed: bypassed + 1, users: 0 });

      // Back: the memory starts empty, fills again and follows changes.
      release();
      await held.whenLive();
      expect(held.stats().listenerPid).not.toBe(pid);
      expect((await decide(input, held))[0]!.reason).toBe("user_suspended");
      await reactivateUser(systemCtx, u.id);
      await held.whenCaughtUp();
      const hitsAfter = held.stats().hits;
      expect((await decide(input, held))[0]!.allow).toBe(true);
      expect((await decide(input, held))[0]!.allow).toBe(true);
      expect(held.stats().hits).toBe(hitsAfter + 1);
    } finally {
      release();
      await held.stop();
    }
  });
});

describe("the triggers", () => {
  it("send a few messages for a bulk change, under 8,000 bytes each, and nothing for changes decisions do not read", async () => {
    const heard: string[] = [];
    const listener = postgres(process.env.DATABASE_URL!, { max: 1, onnotice: () => {} });
    try {
      await listener.listen(DECISIONS_CHANNEL, (payload) => heard.push(payload));
      const sql = getSql();
      let n = 0;
      const settle = async () => {
        const marker = `m:${++n}`;
        await sql`select pg_notify(${DECISIONS_CHANNEL}, ${marker})`;
        await until(() => heard.includes(marker), "the marker");
        const got = heard.splice(0).filter((p) => p !== marker);
        return got;
      };
      await sql`insert into users (email, name) select 'bulk' || i || '@cache.example', 'Bulk ' || i from generate_series(1, 250) i`;
      expect(await settle()).toEqual([]); // a new user: nothing was remembered about it
      await sql`update users set status = 'suspended' where email like 'bulk%@cache.example'`;
      const small = await settle();
      expect(small.map((p) => p.split(",").length)).toEqual([100, 100, 50]);
      expect(small.every((p) => p.startsWith("u:") && p.length < 8000)).toBe(true);
      await sql`update users set last_sign_in_at = now(), failed_sign_ins = 0 where email like 'bulk%@cache.example'`;
      expect(await settle()).toEqual([]);
      await sql`insert into users (email, name) select 'mass' || i || '@cache.example', 'Mass ' || i from generate_series(1, 2500) i`;
      await sql`update users set status = 'suspended' where email like 'mass%@cache.example'`;
      const big = await settle();
      expect(big.length).toBe(21);
      expect(big.at(-1)).toBe("*");
      await sql`delete from users where email like 'mass%@cache.example'`;
      expect((await settle()).at(-1)).toBe("*");
      const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Trigger group" });
      await settle();
      await sql`update groups set description = 'x' where environment_id = ${env.prod.id}`;
      expect(await settle()).toEqual([]);
      await sql`update groups set name = 'Trigger group renamed' where id = ${group.id}`;
      expect(await settle()).toEqual([`e:${env.prod.id}`]);
    } finally {
      await listener.end({ timeout: 1 });
    }
  });
});
