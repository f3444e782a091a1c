import { beforeAll, describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { Validator } from "@seriousme/openapi-schema-validator";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { createApiToken } from "@/lib/api-tokens";
import { signInConsoleMember } from "@/lib/auth/console-sign-in";
import { createConsoleMember } from "@/lib/console-members";
import { countRows, createEnvironments, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { restClient, validateAgainstOpenApi } from "@/test-support/rest-api";
import { openApiDocument } from "./openapi";
import { ENDPOINTS } from "./v1";

// The console-member endpoints of the REST API: the same domain functions as Settings → Members,
// with problem details that carry the reason, and nothing written on a refusal.

let env: { dev: Environment; test: Environment; prod: Environment };
const tokens = { write: "", read: "", devWrite: "", authz: "" };

beforeAll(async () => {
  env = await createEnvironments();
  const owner = await realMemberCtx("owner");
  tokens.write = (await createApiToken(owner, { name: "writer", scope: "write" })).token;
  tokens.read = (await createApiToken(owner, { name: "reader", scope: "read" })).token;
  tokens.devWrite = (await createApiToken(owner, { name: "dev writer", scope: "write", environmentIds: [env.dev.id] })).token;
  tokens.authz = (await createApiToken(owner, { name: "component", scope: "authz" })).token;
});

const { api, recorded } = restClient(() => tokens.write);

const unique = () => crypto.randomUUID().slice(0, 8);

async function writes() {
  const tables = ["console_members", "console_member_environments", "console_invitations", "email_outbox", "audit_events"];
  return {
    counts: Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(t)] as const))),
    members: await getDb().execute(sql`select id, role, status from console_members order by id`),
  };
}

describe("console members over REST", () => {
  it("invites (201, Location, the invitation mailed), lists, reads, changes the role, suspends, reactivates, sends again and removes", async () => {
    const email = `rest-${unique()}@example.com`;
    const created = await api("POST", "/console-members", { body: { email, role: "environment_admin", environmentIds: [env.prod.id, env.dev.id] } });
    expect(created.status).toBe(201);
    expect(created.headers.get("location")).toBe(`/api/v1/console-members/${created.json.id}`);
    expect(created.json).toMatchObject({ email, role: "environment_admin", status: "invited", environments: ["dev", "prod"], activeSessions: 0, secondFactors: [], lastSignInAt: null });
    expect(Date.parse(created.json.invitationExpiresAt)).toBeGreaterThan(Date.now() + 6.9 * 86_400_000);
    const [mail] = await getDb().execute<{ body: string }>(sql`select body from email_outbox where "to" = ${email}`);
    expect(mail!.body).toMatch(/\/sign-in\/invitation\/[A-Za-z0-9_-]{40,}/);
    const [audit] = await getDb().execute<{ actor_type: string; actor_label: string }>(sql`select actor_type, actor_label from audit_events where action = 'console_member.invite' and target_id = ${created.json.id}`);
    expect(audit).toEqual({ actor_type: "api_token", actor_label: "API token writer" });

    const list = await api("GET", "/console-members", { token: tokens.read });
    expect(list.status).toBe(200);
    expect(list.json.data.find((m: { id: string }) => m.id === created.json.id)).toMatchObject({ email, status: "invited" });
    expect(list.json.data[0].role).toBe("owner");
    expect((await api("GET", `/console-members/${created.json.id}`, { token: tokens.read })).json.email).toBe(email);

    const resent = await api("POST", `/console-members/${created.json.id}/invitation`);
    expect(resent.status).toBe(200);
    expect(Object.keys(resent.json)).toEqual(["invitationExpiresAt"]);

    // An active reviewer with an open session: demoting ends it.
    const active = await createConsoleMember(systemCtx, { email: `rest-active-${unique()}@example.com`, name: "Active", role: "admin", password: "a long test password" });
    await signInConsoleMember({ email: active.email, password: "a long test password" });
    const patched = await api("PATCH", `/console-members/${active.id}`, { body: { role: "reviewer" } });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ role: "reviewer", environments: [], activeSessions: 0, sessionsEnded: 1 });
    expect((await api("POST", `/console-members/${active.id}/suspend`)).json).toEqual({ changed: true, sessionsEnded: 0 });
    expect((await api("GET", `/console-members/${active.id}`)).json.status).toBe("suspended");
    expect((await api("POST", `/console-members/${active.id}/reactivate`)).json).toEqual({ changed: true, sessionsEnded: 0 });
    expect((await api("DELETE", `/console-members/${active.id}`)).status).toBe(204);
    const gone = await api("GET", `/console-members/${active.id}`);
    expect(gone.status).toBe(404);
    expect(gone.json.detail).toBe("No such console member.");
    expect((await api("DELETE", `/console-members/${created.json.id}`)).status).toBe(204);
  });

  it("answers bad input with 400 and every field's reason, a duplicate with 409, writing nothing", async () => {
    const before = await writes();
    const bad = await api("POST", "/console-members", { body: { email: "nope", role: "janitor", environmentIds: "dev" } });
    expect(bad.status).toBe(400);
    expect(bad.json.type).toBe("urn:iam-console:problem:validation_failed");
    expect(bad.json.errors).toEqual({
      email: ["Enter a valid email address."],
      role: ["Choose a role: owner, admin, environment_admin, reviewer."],
      environmentIds: ["A list of environment ids."],
    });
    const noScope = await api("POST", "/console-members", { body: { email: `scope-${unique()}@example.com`, role: "environment_admin" } });
    expect(noScope.status).toBe(400);
    expect(noScope.json.errors).toEqual({ environmentIds: ["An environment admin needs at least one environment."] });
    const unknownEnv = await api("POST", "/console-members", { body: { email: `scope-${unique()}@example.com`, role: "environment_admin", environmentIds: [crypto.randomUUID()] } });
    expect(unknownEnv.json.errors).toEqual({ environmentIds: ["One or more environments do not exist."] });
    expect((await api("POST", "/console-members", { raw: "{not json" })).json.detail).toBe("The body is not valid JSON.");
    const [someone] = await getDb().execute<{ id: string; email: string }>(sql`select id, email from console_members where status = 'active' order by created_at limit 1`);
    const dup = await api("POST", "/console-members", { body: { email: someone!.email.toUpperCase(), role: "reviewer" } });
    expect(dup.status).toBe(409);
    expect(dup.json.errors).toEqual({ email: ["A console member with this email already exists."] });
    const badPatch = await api("PATCH", `/console-members/${someone!.id}`, { body: { role: "reviewer", environmentIds: [env.dev.id] } });
    expect(badPatch.status).toBe(400);
    expect(badPatch.json.errors).toEqual({ environmentIds: ["Reviewers are not limited to environments; only an environment admin is."] });
    expect((await api("PATCH", "/console-members/not-a-uuid", { body: { role: "reviewer" } })).status).toBe(404);
    expect(await writes()).toEqual(before);
  });

  it("refuses without the scope (read-only, environment-scoped, decisions-only tokens) and any token on owners, with the reason, writing nothing", async () => {
    const [owner] = await getDb().execute<{ id: string }>(sql`select id from console_members where role = 'owner' and status = 'active' order by created_at limit 1`);
    const before = await writes();
    const read = await api("POST", "/console-members", { token: tokens.read, body: { email: `r-${unique()}@example.com`, role: "reviewer" } });
    expect([read.status, read.json.detail]).toEqual([403, "This API token is read-only."]);
    const scoped = await api("POST", "/console-members", { token: tokens.devWrite, body: { email: `s-${unique()}@example.com`, role: "environment_admin", environmentIds: [env.dev.id] } });
    expect([scoped.status, scoped.json.detail]).toEqual([403, "This API token is scoped to environments and cannot make account-wide changes."]);
    const scopedList = await api("GET", "/console-members", { token: tokens.devWrite });
    expect([scopedList.status, scopedList.json.detail]).toEqual([403, "This API token is scoped to environments; console members are account-wide."]);
    const authz = await api("GET", "/console-members", { token: tokens.authz });
    expect([authz.status, authz.json.detail]).toEqual([403, "This API token may only ask the decision endpoint."]);
    const ownerReason = "Only an owner signed in to the console can invite, change, suspend or remove an owner; an API token cannot.";
    const newOwner = await api("POST", "/console-members", { body: { email: `o-${unique()}@example.com`, role: "owner" } });
    expect([newOwner.status, newOwner.json.detail]).toEqual([403, ownerReason]);
    for (const [method, path] of [
      ["DELETE", `/console-members/${owner!.id}`],
      ["POST", `/console-members/${owner!.id}/suspend`],
    ] as const) {
      const r = await api(method, path);
      expect([method, path, r.status, r.json.detail]).toEqual([method, path, 403, ownerReason]);
    }
    const demote = await api("PATCH", `/console-members/${owner!.id}`, { body: { role: "admin" } });
    expect([demote.status, demote.json.detail]).toEqual([403, ownerReason]);
    // Whatever its If-Match: a token learns nothing of an owner's ETag (it was compared first, 412 when not the owner's).
    for (const tag of ['W/"stale"', 'W/"0"']) {
      const guessed = await api("PATCH", `/console-members/${owner!.id}`, { body: { role: "admin" }, headers: { "if-match": tag } });
      expect([tag, guessed.status, guessed.json.detail]).toEqual([tag, 403, ownerReason]);
    }
    expect(await writes()).toEqual(before);
  });

  it("is in the OpenAPI document, which stays valid", async () => {
    const doc = openApiDocument() as { paths: Record<string, Record<string, { tags?: string[] }>> };
    expect((await new Validator().validate(doc as never)).valid).toBe(true);
    const memberEndpoints = ENDPOINTS.filter((e) => e.path.startsWith("/console-members"));
    expect(memberEndpoints.map((e) => `${e.method} ${e.path}`).sort()).toEqual([
      "DELETE /console-members/{id}",
      "GET /console-members",
      "GET /console-members/{id}",
      "PATCH /console-members/{id}",
      "POST /console-members",
      "POST /console-members/{id}/invitation",
      "POST /console-members/{id}/reactivate",
      "POST /console-members/{id}/suspend",
    ]);
    for (const e of memberEndpoints) expect(doc.paths[e.path]?.[e.method.toLowerCase()]?.tags).toEqual(["Console members"]);
    expect(JSON.stringify(doc.paths["/console-members"]!.post)).toContain("environmentIds");
  });
});

describe("the recorded answers match the served OpenAPI document", () => {
  it("validates every answer recorded above against its operation's response schema", () => {
    const { failures, checked } = validateAgainstOpenApi(recorded, { skipUnknownPaths: true });
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(10);
  });
});
