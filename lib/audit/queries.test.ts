import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { createUser, suspendUser, updateUser } from "@/lib/users";
import { consoleAuditFilter, diffOf, iterateAuditEvents, knownActions, listAuditEvents } from "./queries";

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));

let env: { dev: Environment; test: Environment; prod: Environment };
let ana: { id: string };
beforeAll(async () => {
  env = await createEnvironments();
  ana = await createUser(memberCtx("admin"), { name: "Ana Audit", email: "ana.audit@example.com", environmentIds: [env.prod.id] });
  await updateUser(systemCtx, ana.id, { name: "Ana Audited" });
  await suspendUser(systemCtx, ana.id);
  for (let i = 0; i < 5; i++) await createUser(systemCtx, { name: `Bulk ${i}`, email: `bulk${i}@example.com`, environmentIds: [env.dev.id] });
});
beforeEach(() => cookieJar.clear());

describe("reading the audit trail", () => {
  it("filters by actor, action (exact or prefix), target, environment, outcome and time, newest first, paged by keyset", async () => {
    const byActor = await listAuditEvents({ actorType: "console_member", actor: "admin@" });
    expect(byActor.rows.map((e) => e.action)).toEqual(["user.create"]);
    expect((await listAuditEvents({ action: "user.", target: "ana.audit" })).rows.map((e) => e.action)).toEqual(["user.suspend", "user.update", "user.create"]);
    expect((await listAuditEvents({ action: "user.update", target: ana.id })).rows).toHaveLength(1);
    const dev = (await listAuditEvents({ environment: "DEV" })).rows;
    expect(dev.length).toBeGreaterThan(0);
    expect(new Set(dev.map((e) => e.environmentKey))).toEqual(new Set(["dev"]));
    expect((await listAuditEvents({ outcome: "denied" })).rows).toEqual([]);
    expect((await listAuditEvents({ from: "2000-01-01", to: "2000-12-31" })).rows).toEqual([]);
    const first = await listAuditEvents({ action: "user.create", limit: 4 });
    const second = await listAuditEvents({ action: "user.create", limit: 4, before: first.next });
    expect(first.rows.length + second.rows.length).toBe(6);
    expect(second.next).toBeNull();
    expect(Math.max(...second.rows.map((r) => r.id))).toBeLessThan(Math.min(...first.rows.map((r) => r.id)));
  });

  it("reads a word without a dot as a prefix (mcp finds mcp.*), and knows the actions and their prefixes", async () => {
    const { recordAudit } = await import("./record");
    const { getDb } = await import("@/db/client");
    await recordAudit(getDb(), { actor: { type: "anonymous", id: null, label: "anonymous (no valid token)" } }, { action: "mcp.access", targetType: "resource", environment: env.prod, outcome: "denied", reason: "missing_token" });
    expect((await listAuditEvents({ action: "mcp" })).rows.map((e) => [e.action, e.actorType])).toEqual([["mcp.access", "anonymous"]]);
    expect((await listAuditEvents({ action: "mcp.acc" })).rows).toEqual([]);
    const actions = await knownActions();
    expect(actions).toEqual(expect.arrayContaining(["mcp.", "mcp.access", "user.", "user.create", "user.suspend", "user.update"]));
    expect(actions).toEqual([...new Set(actions)].sort());
  });

  it("shows an environment's page its own events and the account-wide ones; 'all' shows every environment", async () => {
    const { recordAudit } = await import("./record");
    const { getDb } = await import("@/db/client");
    await recordAudit(getDb(), systemCtx, { action: "api_token.create", targetType: "api_token", targetLabel: "account-wide" });
    const envs = async (query: Record<string, string>, page: string) => new Set((await listAuditEvents({ ...consoleAuditFilter(query, page), limit: 500 })).rows.map((e) => e.environmentKey));
    expect(await envs({}, "prod")).toEqual(new Set(["prod", null]));
    expect(await envs({}, "dev")).toEqual(new Set(["dev", null]));
    expect(await envs({ environment: "dev" }, "prod")).toEqual(new Set(["dev", null]));
    expect(await envs({ environment: "all" }, "prod")).toEqual(new Set(["prod", "test", "dev", null]));
    // The REST filter stays exact: one environment's events only, unless accountWide is asked for.
    expect(new Set((await listAuditEvents({ environment: "prod" })).rows.map((e) => e.environmentKey))).toEqual(new Set(["prod"]));
    expect(new Set((await listAuditEvents({ environment: "prod", accountWide: "true" })).rows.map((e) => e.environmentKey))).toEqual(new Set(["prod", null]));
  });

  it("a range ending on a day includes that day's events (the console's date field sends a day); a time ends at that instant", async () => {
    const [created] = (await listAuditEvents({ action: "user.create", target: ana.id })).rows;
    const day = created!.occurredAt.toISOString().slice(0, 10);
    expect((await listAuditEvents({ target: ana.id, from: day, to: day })).rows.map((e) => e.action)).toContain("user.create");
    expect((await listAuditEvents({ target: ana.id, action: "user.create", to: new Date(created!.occurredAt.getTime() - 1).toISOString() })).rows).toEqual([]);
    expect((await listAuditEvents({ target: ana.id, action: "user.create", to: new Date(created!.occurredAt.getTime() + 1).toISOString() })).rows).toHaveLength(1);
    // The last day a filter takes: its end is the end of the trail (the day after is no timestamp Postgres reads).
    expect((await listAuditEvents({ target: ana.id, action: "user.create", to: "9999-12-31" })).rows).toHaveLength(1);
    expect((await listAuditEvents({ target: ana.id, from: "9999-12-31", to: "9999-12-31" })).rows).toEqual([]);
  });

  it("refuses bad filters with the field at fault", async () => {
    const bad = await listAuditEvents({ from: "yesterday-ish" }).catch((e) => e);
    expect(bad.fieldErrors).toEqual({ from: ["Not a date (use YYYY-MM-DD or an ISO time)."] });
    const reversed = await listAuditEvents({ from: "2026-02-01", to: "2026-01-01" }).catch((e) => e);
    expect(reversed.fieldErrors).toEqual({ to: ["The start is after the end."] });
    expect((await listAuditEvents({ outcome: "maybe" }).catch((e) => e)).fieldErrors.outcome).toBeDefined();
  });

  it("shows an event's changes key by key", async () => {
    const [update] = (await listAuditEvents({ action: "user.update", target: ana.id })).rows;
    expect(diffOf(update!.before, update!.after)).toEqual([{ path: "name", before: "Ana Audit", after: "Ana Audited" }]);
    expect(diffOf(null, { a: 1, b: { c: 2 } })).toEqual([{ path: "a", before: null, after: 1 }, { path: "b.c", before: null, after: 2 }]);
    expect(diffOf({ same: 1 }, { same: 1 })).toEqual([]);
  });

  it("streams the filtered set for export, and the CSV route needs a session and a valid filter", async () => {
    let count = 0;
    for await (const batch of iterateAuditEvents({ action: "user." })) count += batch.length;
    expect(count).toBe(8);
    const { GET: handler } = await import("@/app/console/[env]/audit/export/route");
    // Ana is a user of PROD: her creation is PROD's event (her update and suspension, of the account, show on every page).
    const GET = (request: Request) => handler(request, { params: Promise.resolve({ env: "prod" }) });
    expect((await GET(new Request("http://localhost/console/prod/audit/export"))).status).toBe(401);
    await signInAs("reviewer");
    const bad = await GET(new Request("http://localhost/console/prod/audit/export?from=nope"));
    expect([bad.status, (await bad.json()).errors]).toEqual([400, { from: ["Not a date (use YYYY-MM-DD or an ISO time)."] }]);
    const csv = await (await GET(new Request(`http://localhost/console/prod/audit/export?target=${ana.id}`))).text();
    const lines = csv.trim().split("\n");
    expect(lines[0]).toBe("id,occurred_at,actor_type,actor_id,actor,action,target_type,target_id,target,environment,outcome,reason,before,after,request_id,ip,seq,hash,prev_hash,sealed_content");
    expect(lines.slice(1).map((l) => l.split(",")[5])).toEqual(["user.suspend", "user.update", "user.create"]);
    // Up to the last day there is: the whole file, not a 200 cut off by a failing query.
    const open = await GET(new Request(`http://localhost/console/prod/audit/export?target=${ana.id}&to=9999-12-31`));
    expect([open.status, (await open.text()).trim().split("\n").length]).toEqual([200, 4]);
  });
});

describe("sign-in activity", () => {
  it("counts an environment's sign-ins per day by method and outcome, with empty days as zeros", async () => {
    const { recordAudit } = await import("./record");
    const { getDb } = await import("@/db/client");
    const ctx = { actor: { type: "end_user" as const, id: ana.id, label: "ana.audit@example.com", environmentIds: [env.prod.id] } };
    const signIn = (method: string, outcome: "success" | "failure") =>
      recordAudit(getDb(), ctx, { action: "end_user.sign_in", targetType: "user", targetId: ana.id, environment: env.prod, outcome, after: { method } });
    await Promise.all([signIn("password", "success"), signIn("password", "failure"), signIn("password", "failure"), signIn("sso", "success")]);
    const days = await (await import("./queries")).signInActivity(env.prod.id, 7);
    expect(days).toHaveLength(7);
    expect(days.at(-1)).toEqual({ day: new Date().toISOString().slice(0, 10), passwordSuccess: 1, ssoSuccess: 1, passwordFailure: 2, ssoFailure: 0 });
    expect(days.slice(0, 6).every((d) => d.passwordSuccess + d.ssoSuccess + d.passwordFailure + d.ssoFailure === 0)).toBe(true);
    expect((await (await import("./queries")).signInActivity(env.dev.id, 7)).at(-1)!.passwordSuccess).toBe(0);
  });
});
