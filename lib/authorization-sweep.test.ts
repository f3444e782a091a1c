import { formLevelError } from "@/components/form-state";
import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { sql } from "drizzle-orm";
import { NextRequest } from "next/server";
import { getDb } from "@/db/client";
import type { Environment } from "@/db/schema";
import { cookieJar, signInAs } from "@/test-support/console-session";
import { countRows, createEnvironments } from "@/test-support/fixtures";
import { dispatchMachine, MACHINE_ROUTES, machineRoute } from "@/lib/doors/server/routes";
import { ENVIRONMENT_SCOPED, PERMISSION_RESOURCES, PERMISSIONS, type PermissionAction, type PermissionResource } from "@/lib/permissions";

// The authorization sweep: every server action in the code, found by file (a new one cannot be
// forgotten), is refused without a session; every write is refused for a reviewer (deciding the
// review items assigned to them aside); every account-wide write is refused for an environment
// admin, and every environment-scoped write aimed at another environment too. Every route handler,
// found by file, is classified by its door and answers a credential-less request as it should.

vi.mock("next/headers", () => import("@/test-support/console-session").then((m) => m.nextHeadersMock));
vi.mock("next/cache", () => ({ revalidatePath: vi.fn() }));
vi.mock("next/navigation", () => ({ redirect: vi.fn(), notFound: vi.fn() }));

type Action = ((...args: unknown[]) => Promise<{ ok: boolean; error?: string }>) & { permission?: [PermissionResource, PermissionAction] };

const modules = import.meta.glob<Record<string, unknown>>("/app/**/actions.ts", { exhaustive: true });
// Server-action modules that are not the console's: the end users' own sign-in and password steps,
// public by nature (they check the end user's session or one-time link themselves).
// And the console invitee's step, whose one-time link is the credential (checked in lib/console-members).
// And the console sign-in's passkey step, which checks the email and password itself (lib/auth/console-sign-in.ts).
// And the end user's answer to an app's consent request and their connected apps (their own session; lib/oauth).
// And a console member's "forgot password" (rate-limited, the same answer whatever the email) and the
// reset link's step, whose one-time link is the credential (lib/console-members/own-account.ts).
const PUBLIC_ACTION_MODULES = new Set([
  "/app/e/[env]/actions.ts",
  "/app/e/[env]/apps/actions.ts",
  "/app/sign-in/invitation/[token]/actions.ts",
  "/app/sign-in/actions.ts",
  "/app/sign-in/forgot/actions.ts",
  "/app/sign-in/reset/[token]/actions.ts",
]);

async function consoleActions(): Promise<[string, Action][]> {
  const found: [string, Action][] = [];
  for (const [file, load] of Object.entries(modules)) {
    if (PUBLIC_ACTION_MODULES.has(file)) continue;
    for (const [name, value] of Object.entries(await load())) if (typeof value === "function") found.push([`${file}#${name}`, value as Action]);
  }
  return found;
}

let dev: Environment;
beforeAll(async () => {
  ({ dev } = await createEnvironments());
});
beforeEach(() => cookieJar.clear());

const notDenied = async () => (await getDb().execute<{ n: number }>(sql`select count(*)::int as n from audit_events where outcome <> 'denied'`))[0]!.n;

describe("authorization sweep over every server action", () => {
  it("finds the console's actions, each wrapped with its permission", async () => {
    const actions = await consoleActions();
    expect(actions.length).toBeGreaterThan(40);
    expect(actions.filter(([, a]) => !a.permission).map(([name]) => name)).toEqual([]);
    expect(Object.keys(modules).filter((f) => !f.startsWith("/app/console/") && !PUBLIC_ACTION_MODULES.has(f))).toEqual([]);
  });

  it("refuses every one without a session, writing nothing", async () => {
    const before = await countRows("audit_events");
    for (const [name, action] of await consoleActions()) {
      expect([name, await action(crypto.randomUUID(), {})]).toEqual([name, { ok: false, error: "Your session has ended. Sign in again." }]);
    }
    expect(await countRows("audit_events")).toBe(before);
  });

  it("refuses every write to a reviewer, and every account-wide write to an environment admin", async () => {
    const allWrites = (await consoleActions()).filter(([, a]) => a.permission![1] === "write");
    expect(allWrites.length).toBeGreaterThan(30);
    // The reviewer's one write is deciding the review items assigned to them (it changes no access);
    // anything else the role table might let a reviewer write fails here.
    const reviewerWrites = PERMISSION_RESOURCES.filter((r) => PERMISSIONS.reviewer[r].includes("write"));
    expect(reviewerWrites).toEqual(["review_decisions"]);
    const writes = allWrites.filter(([, a]) => !reviewerWrites.includes(a.permission![0]));
    await signInAs("reviewer");
    const before = await countRows("audit_events");
    for (const [name, action] of writes) {
      const result = await action(crypto.randomUUID(), {});
      expect([name, result.ok, result.error]).toEqual([name, false, expect.stringMatching(/^A reviewer cannot change /)]);
    }
    cookieJar.clear();
    await signInAs("environment_admin", [dev.id]);
    for (const [name, action] of writes.filter(([, a]) => !ENVIRONMENT_SCOPED.has(a.permission![0]))) {
      const result = await action(crypto.randomUUID(), {});
      expect([name, result.ok, result.error]).toEqual([name, false, expect.stringMatching(/^An environment admin cannot change /)]);
    }
    // Only what the test itself did: the environment admin created and signed in.
    expect(await countRows("audit_events")).toBe(before + 2);
  });
});

// Every route handler, found by file, and every machine door of the lean server (its route table,
// lib/doors/server/routes.ts, carries each door's classification): how it authenticates, and what a
// request without any credential gets. A new Next route fails this test until it is classified here.
// `exhaustive`: the default glob skips dot folders, which would hide /.well-known.
const routes = import.meta.glob<Record<string, unknown>>("/app/**/route.ts", { exhaustive: true });
const ROUTES: Record<string, { door: string; anonymous: number[] }> = {
  "/app/api/sso/metadata/route.ts": { door: "public", anonymous: [200] },
  "/app/api/sso/acs/route.ts": { door: "SAML response (signed by the IdP)", anonymous: [400, 415] },
  "/app/api/sso/oidc/callback/route.ts": { door: "OpenID Connect redirect URI (state bound to the starting browser, code checked at the IdP)", anonymous: [400] },
  "/app/e/[env]/sso/route.ts": { door: "starts SSO for an environment", anonymous: [303, 307, 404] },
  "/app/e/[env]/branding/logo/route.ts": { door: "public (an environment's logo)", anonymous: [404] },
  "/app/sign-in/sso/route.ts": { door: "starts console SSO (back to the sign-in page while it is off)", anonymous: [303] },
  "/app/api/auth/[...nextauth]/route.ts": { door: "next-auth (console sign-in)", anonymous: [] },
  "/app/e/[env]/token/route.ts": { door: "end-user session", anonymous: [401, 403] },
  // The demo's own IdP: 404 unless `npm start`'s demo seed made it (app/demo-idp/sso/route.test.ts).
  "/app/demo-idp/sso/route.ts": { door: "demo IdP (demo mode only)", anonymous: [404] },
  "/app/demo-idp/metadata/route.ts": { door: "demo IdP (demo mode only)", anonymous: [404] },
  "/app/console/[env]/users/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/memberships/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/users/import/upload/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/jobs/[jobId]/report/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/access/[resourceId]/who/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/audit/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/history/export/route.ts": { door: "console session", anonymous: [401] },
  "/app/console/[env]/reviews/[reviewId]/report/route.ts": { door: "console session", anonymous: [401] },
};

// Their source, to see how each authenticates.
const routeSources = import.meta.glob<string>("/app/**/route.ts", { query: "?raw", import: "default", eager: true, exhaustive: true });

describe("authorization sweep over every route handler", () => {
  it("starts every console-session route with consoleRouteContext; none reads the session by hand", () => {
    const consoleRoutes = Object.keys(ROUTES).filter((f) => ROUTES[f]!.door === "console session");
    expect(consoleRoutes.length).toBeGreaterThan(5);
    expect(consoleRoutes.filter((f) => !routeSources[f]!.includes("consoleRouteContext("))).toEqual([]);
    expect(Object.keys(routeSources).filter((f) => /\b(getConsoleSession|requireConsoleSession|readConsoleSession)\b/.test(routeSources[f]!))).toEqual([]);
  });

  it("classifies every route, and none answers a request without credentials with more than it should", async () => {
    expect(Object.keys(routes).filter((f) => !ROUTES[f]).sort()).toEqual([]);
    expect(Object.keys(ROUTES).filter((f) => !routes[f]).sort()).toEqual([]);
    const id = crypto.randomUUID();
    const params = { env: "dev", id, resourceId: id, jobId: id, directory: id, path: ["users"], nextauth: ["session"] };
    // The server makes the first signing keys before it listens (lib/doors/server): so here.
    const { ensureSigningKeys } = await import("@/lib/tokens/keys");
    await ensureSigningKeys();
    const before = await notDenied();
    for (const [file, load] of Object.entries(routes)) {
      const { anonymous } = ROUTES[file]!;
      if (!anonymous.length) continue; // next-auth's own handler
      const mod = await load();
      for (const method of ["GET", "POST", "PUT", "PATCH", "DELETE"].filter((m) => typeof mod[m] === "function")) {
        const request = new NextRequest(`http://localhost:3000/x`, { method, headers: { "content-type": "application/json" }, body: method === "GET" ? undefined : "{}" });
        const response = (await (mod[method] as (r: Request, c: unknown) => Promise<Response>)(request, { params: Promise.resolve(params) })) as Response;
        expect([file, method, anonymous.includes(response.status) ? "as expected" : response.status]).toEqual([file, method, "as expected"]);
      }
    }
    // The machine doors the lean server answers, through the same routing, every method.
    for (const route of MACHINE_ROUTES) {
      const url = `http://localhost:3000${route.example.replaceAll("{id}", id)}`;
      for (const method of route.methods) {
        const response = (await dispatchMachine(new Request(url, { method, headers: { "content-type": "application/json" }, body: method === "GET" || method === "DELETE" ? undefined : "{}" })))!;
        expect([route.name, method, route.anonymous.includes(response.status) ? "as expected" : response.status]).toEqual([route.name, method, "as expected"]);
      }
    }
    // No Next route left for a path the lean server answers.
    expect(Object.keys(routes).filter((f) => machineRoute(f.replace(/^\/app/, "").replace(/\/route\.ts$/, "").replace(/\[[^\]]+\]/g, id)))).toEqual([]);
    // Denials at components are audited; nothing else was written.
    expect(await notDenied()).toBe(before);
  });
});

// An environment admin of DEV, asked to change things that live in PROD: every environment-scoped
// write, with arguments that name real PROD objects, is refused with the scope reason and changes
// nothing. The table must name every such action (a new one fails until it is added here).
describe("authorization sweep: an environment admin outside their environments", () => {
  it("refuses every environment-scoped write aimed at another environment, writing nothing", async () => {
    const { createResource } = await import("@/lib/access/resources");
    const { addGrants } = await import("@/lib/access/grants");
    const { createGroup, addMembers } = await import("@/lib/groups");
    const { createUser } = await import("@/lib/users");
    const { createDirectory } = await import("@/lib/directories");
    const { createAccessReview } = await import("@/lib/reviews");
    const { createIdentityProvider } = await import("@/lib/sso/identity-providers");
    const { generateKeyPair, idpMetadata } = await import("@/lib/sso/testing/test-idp");
    const { realMemberCtx, systemCtx } = await import("@/test-support/fixtures");
    const db = getDb();
    const [prod] = await db.execute<{ id: string }>(sql`select id from environments where key = 'prod'`);
    const prodId = prod!.id;
    const id = crypto.randomUUID().slice(0, 6);
    const user = await createUser(systemCtx, { name: "Prod Only", email: `prod.only.${id}@example.com`, environmentIds: [prodId] });
    const group = await createGroup(systemCtx, { environmentId: prodId, name: `Prod team ${id}` });
    await addMembers(systemCtx, { groupId: group.id, userIds: [user.id] });
    const resource = await createResource(systemCtx, { environmentId: prodId, feature: "mcp", name: `Prod tools ${id}` });
    await addGrants(systemCtx, { environmentId: prodId, feature: "mcp", resourceId: resource.id, groupIds: [group.id] });
    const [grant] = await db.execute<{ id: string }>(sql`select id from access_grants where resource_id = ${resource.id}`);
    const { directory } = await createDirectory(systemCtx, { environmentId: prodId, name: `Prod directory ${id}` });
    const idp = await createIdentityProvider(systemCtx, { name: `Prod IdP ${id}`, metadataXml: idpMetadata(`https://prod-idp-${id}.example`, `https://prod-idp-${id}.example/sso`, [generateKeyPair(id).certBase64]) });
    // A PROD sign-in refused because the user's email was not verified: its trace offers the link fix.
    const [trace] = await db.execute<{ id: string }>(sql`insert into sso_traces (identity_provider_id, environment_id, flow, outcome, failed_check, reason, subject, user_id)
      values (${idp.id}, ${prodId}, 'sp', 'failure', 'email_unverified', 'not verified', ${`prod.only.${id}@example.com`}, ${user.id}) returning id`);
    const owner = await realMemberCtx("owner");
    const dueAt = new Date(Date.now() + 86_400_000).toISOString();
    // A bulk action over PROD's users, queued by the owner (no worker runs here): a DEV admin may not stop it.
    const { startBulkAllMatching } = await import("@/lib/users/bulk-job");
    const prodJob = await startBulkAllMatching(owner, { action: "suspend", filter: { environmentId: prodId } });
    const review = await createAccessReview(owner, { environmentId: prodId, name: `Prod review ${id}`, scope: "groups", scopeIds: [group.id], reviewerIds: [owner.actor.id], dueAt });
    const { requestAccess } = await import("@/lib/access-requests");
    const asked = await requestAccess(systemCtx, { environmentId: prodId, userId: user.id, resourceId: (await createResource(systemCtx, { environmentId: prodId, feature: "agent_studio", name: `Prod genie ${id}` })).id, reason: "please" });
    // A PROD sync exclusion (as a review's closing writes one).
    const [exclusion] = await db.execute<{ id: string }>(sql`insert into membership_exclusions (kind, environment_id, user_id, group_id, source, reason, created_by)
      values ('member', ${prodId}, ${user.id}, ${group.id}, 'scim', 'sweep', 'test') returning id`);

    // A PROD connected app (an MCP client the user allowed), as lib/oauth's consent writes it.
    const { createEndUserSession } = await import("@/lib/end-user/sessions");
    const { session: appSession } = await createEndUserSession(db, { userId: user.id, environmentId: prodId, method: "password" });
    const [consent] = await db.execute<{ id: string }>(sql`insert into oauth_consents (environment_id, user_id, client_id, client_name, resource_id, grant_id, session_id)
      values (${prodId}, ${user.id}, 'client', 'Sweep client', ${resource.id}, ${`grant-${id}`}, ${appSession.id}) returning id`);

    const ARGS: Record<string, unknown[]> = {
      revokeConnectedAppAction: [consent!.id],
      updateBrandingAction: [prodId, { displayName: "Sneaky", primaryColor: "#1f57cc", backgroundColor: "#ffffff" }],
      setBrandingLogoAction: [prodId, new FormData()],
      linkIdentityByHandAction: [{ userId: user.id, identityProviderId: idp.id, subject: `sneaky-${id}` }],
      unlinkIdentityAction: [{ userId: user.id, identityProviderId: idp.id, subject: `prod.only.${id}@example.com` }],
      createUserAction: [{ name: "New", email: `new.${id}@example.com`, environmentIds: [prodId] }],
      updateUserAction: [user.id, { name: "Renamed" }],
      suspendUserAction: [user.id],
      reactivateUserAction: [user.id],
      deleteUserAction: [user.id],
      grantEnvironmentAction: [{ userId: user.id, environmentId: prodId }],
      revokeEnvironmentAction: [{ userId: user.id, environmentId: prodId }],
      createGroupAction: [{ environmentId: prodId, name: `Another ${id}` }],
      updateGroupAction: [group.id, { name: `Renamed ${id}` }],
      deleteGroupAction: [group.id],
      addMembersAction: [{ groupId: group.id, userIds: [user.id] }],
      addUserToGroupsAction: [{ userId: user.id, groupIds: [group.id] }],
      removeMembersAction: [{ groupId: group.id, userIds: [user.id] }],
      bulkUsersAction: [{ action: "suspend", userIds: [user.id] }],
      startImportAction: [{ uploadId: crypto.randomUUID(), environmentId: prodId, mapping: { email: "email" } }],
      startBulkAllMatchingAction: [{ action: "suspend", filter: { environmentId: prodId } }],
      cancelJobAction: [prodJob.id],
      sendInvitationAction: [{ userId: user.id, environmentId: prodId }],
      signOutEverywhereAction: [user.id],
      resetUserSecondFactorsAction: [user.id],
      createReviewAction: [{ environmentId: prodId, name: "Sneaky", scope: "groups", scopeIds: [group.id], reviewerIds: [owner.actor.id], dueAt }],
      closeReviewAction: [review.id],
      liftExclusionAction: [exclusion!.id],
      createResourceAction: [{ environmentId: prodId, feature: "mcp", name: `More tools ${id}` }],
      updateResourceAction: [resource.id, { name: `Renamed tools ${id}` }],
      deleteResourceAction: [resource.id],
      addGrantsAction: [{ environmentId: prodId, feature: "agent_studio", groupIds: [group.id] }],
      removeGrantAction: [grant!.id],
      updateEnvironmentAuthAction: [
        prodId,
        { passwordEnabled: true, ssoEnabled: false, identityProviderId: null, enforcement: "optional", jitEnabled: false, groupSyncEnabled: false, sessionLifetimeMinutes: 60, idleTimeoutMinutes: 30 },
      ],
      createDirectoryAction: [{ environmentId: prodId, name: `Sneaky directory ${id}` }],
      rotateDirectoryTokenAction: [directory.id],
      setDirectoryStatusAction: [directory.id, "disabled"],
      updateDirectorySettingsAction: [directory.id, { patchAnswer: "no_content" }],
      linkIdentityAction: [trace!.id],
      setGroupMappingsAction: [idp.id, { environmentId: prodId, mappings: [{ idpValue: "admins", groupId: group.id }] }],
      decideAccessRequestAction: [{ requestId: asked.request.id, decision: "approve" }],
      promoteAction: [{ from: "dev", to: "prod", planHash: "0".repeat(64) }],
    };
    const scoped = (await consoleActions()).filter(([, a]) => a.permission![1] === "write" && ENVIRONMENT_SCOPED.has(a.permission![0]));
    expect(scoped.map(([name]) => name.split("#")[1]).filter((n) => !ARGS[n!]).sort()).toEqual([]);

    await signInAs("environment_admin", [dev.id]);
    const tables = ["users", "user_identities", "groups", "group_members", "environment_access", "resources", "access_grants", "directories", "jobs", "access_reviews", "access_review_items", "password_tokens", "audit_events", "membership_ledger", "access_requests", "membership_exclusions", "oauth_consents", "environment_branding"];
    const snapshot = async () => ({
      counts: Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(t)] as const))),
      rows: await db.execute(sql`select
        (select row_to_json(u) from users u where id = ${user.id}) as u,
        (select row_to_json(g) from groups g where id = ${group.id}) as g,
        (select row_to_json(r) from resources r where id = ${resource.id}) as r,
        (select row_to_json(d) from directories d where id = ${directory.id}) as d,
        (select row_to_json(a) from environment_auth a where environment_id = ${prodId}) as a,
        (select row_to_json(v) from access_reviews v where id = ${review.id}) as v,
        (select row_to_json(q) from access_requests q where id = ${asked.request.id}) as q,
        (select row_to_json(x) from membership_exclusions x where id = ${exclusion!.id}) as x,
        (select row_to_json(c) from oauth_consents c where id = ${consent!.id}) as c,
        (select count(*) from sessions where revoked_at is not null) as ended`),
    });
    const before = await snapshot();
    const answers: string[] = [];
    for (const [name, action] of scoped) {
      const result = await action(...ARGS[name.split("#")[1]!]!);
      answers.push(`${name.split("#")[1]} ${result.ok} ${result.error ?? JSON.stringify((result as { data?: unknown }).data)}`);
    }
    // A bulk action answers per user (the table's result dialog lists each refusal), with the same reason.
    const bulkRefusal = `bulkUsersAction true ${JSON.stringify({ changed: [], unchanged: [], failed: [{ userId: user.id, reason: "This change touches an environment outside your scope.", code: "forbidden" }] })}`;
    expect(answers.filter((a) => a !== bulkRefusal && !a.endsWith(" false This change touches an environment outside your scope."))).toEqual([]);
    expect(answers).toContain(bulkRefusal);
    expect(await snapshot()).toEqual(before);
  });
});

// Console members: owners and admins manage them, environment admins and reviewers are refused by
// the sweeps above (console_members is account-wide). Owners are the owners' alone: an admin, with
// arguments naming a real owner (or asking for one), is refused every member action with the reason
// and changes nothing. The table must name every console-member action (a new one fails here).
describe("authorization sweep: an admin and the owners", () => {
  it("refuses every console-member write on an owner, or that would make one, writing nothing", async () => {
    const { createConsoleMember, inviteConsoleMember } = await import("@/lib/console-members");
    const { realMemberCtx, systemCtx } = await import("@/test-support/fixtures");
    const id = crypto.randomUUID().slice(0, 6);
    const owner = await createConsoleMember(systemCtx, { email: `sweep-owner-${id}@example.com`, name: "Owner", role: "owner", password: "a long test password" });
    const invitedOwner = await inviteConsoleMember(await realMemberCtx("owner"), { email: `sweep-invited-owner-${id}@example.com`, role: "owner" });
    const reviewer = await createConsoleMember(systemCtx, { email: `sweep-reviewer-${id}@example.com`, name: "Reviewer", role: "reviewer", password: "a long test password" });
    const ARGS: Record<string, unknown[]> = {
      inviteMemberAction: [{ email: `sweep-new-owner-${id}@example.com`, role: "owner" }],
      resendInvitationAction: [invitedOwner.member.id],
      changeMemberRoleAction: [reviewer.id, { role: "owner" }],
      suspendMemberAction: [owner.id],
      reactivateMemberAction: [owner.id],
      removeMemberAction: [owner.id],
      resetSecondFactorsAction: [owner.id],
      setRequireSecondFactorAction: [{ requireSecondFactor: true }],
      setConsolePasswordResetAction: [{ selfServiceReset: false }],
      sendPasswordResetAction: [reviewer.id],
      updateConsoleSsoAction: [{ enabled: false, passwordSignIn: "everyone", mappings: [{ idpValue: "Founders", role: "admin" }] }],
    };
    const memberActions = (await consoleActions()).filter(([, a]) => a.permission![0] === "console_members" && a.permission![1] === "write");
    expect(memberActions.map(([name]) => name.split("#")[1]).sort()).toEqual(Object.keys(ARGS).sort());

    await signInAs("admin");
    const tables = ["console_members", "console_member_environments", "console_invitations", "console_sessions", "email_outbox", "audit_events", "console_sso", "console_sso_mappings", "console_password_resets", "console_settings"];
    const snapshot = async () => ({
      counts: Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await countRows(t)] as const))),
      members: await getDb().execute(sql`select id, role, status from console_members order by id`),
      ended: await getDb().execute(sql`select count(*)::int as n from console_sessions where revoked_at is not null`),
    });
    const before = await snapshot();
    const answers: string[] = [];
    for (const [name, action] of memberActions) {
      const result = await action(...ARGS[name.split("#")[1]!]!);
      answers.push(`${name.split("#")[1]} ${result.ok} ${result.error}`);
    }
    const refused = (n: string) => answers.find((a) => a.startsWith(`${n} `));
    expect(refused("inviteMemberAction")).toBe("inviteMemberAction false Only an owner can make someone an owner.");
    expect(refused("changeMemberRoleAction")).toBe("changeMemberRoleAction false Only an owner can make someone an owner.");
    for (const n of ["resendInvitationAction", "suspendMemberAction", "reactivateMemberAction", "removeMemberAction"]) {
      expect(refused(n)).toBe(`${n} false Only an owner can change, suspend or remove an owner.`);
    }
    expect(refused("resetSecondFactorsAction")).toBe("resetSecondFactorsAction false Only an owner signed in to the console can reset a member's second factors.");
    expect(refused("setRequireSecondFactorAction")).toBe("setRequireSecondFactorAction false Only an owner can change whether the console requires a second factor.");
    expect(refused("setConsolePasswordResetAction")).toBe("setConsolePasswordResetAction false Only an owner can change whether members reset a forgotten password themselves.");
    // Not only for an owner: no one but an owner may set another member's password.
    expect(refused("sendPasswordResetAction")).toBe("sendPasswordResetAction false Only an owner signed in to the console can send a member a password reset link.");
    expect(refused("updateConsoleSsoAction")).toBe("updateConsoleSsoAction false Only an owner can change how members sign in to the console.");
    expect(await snapshot()).toEqual(before);
  });

  it("refuses the invitee's step without a usable link, writing nothing", async () => {
    const { acceptInvitationAction } = await import("@/app/sign-in/invitation/[token]/actions");
    const before = await countRows("audit_events");
    const form = new FormData();
    for (const [k, v] of Object.entries({ name: "Mallory", password: "violet kettle drums at noon", confirm: "violet kettle drums at noon" })) form.set(k, v);
    for (const token of ["not-a-real-token-but-long-enough", crypto.randomUUID(), ""]) {
      const state = await acceptInvitationAction(token, null, form);
      // Shown on the form: no field of it carries the message instead.
      expect(formLevelError(state)).toBe("This invitation was already used or has expired; ask an owner or admin to send it again.");
    }
    expect(await countRows("audit_events")).toBe(before);
  });

  it("refuses a console password reset without a usable link, writing nothing", async () => {
    const { resetPasswordAction } = await import("@/app/sign-in/reset/[token]/actions");
    const snapshot = async () => ({
      counts: Object.fromEntries(await Promise.all(["console_password_resets", "audit_events"].map(async (t) => [t, await countRows(t)] as const))),
      members: await getDb().execute(sql`select id, password_hash, failed_sign_ins from console_members order by id`),
      ended: await getDb().execute(sql`select count(*)::int as n from console_sessions where revoked_at is not null`),
    });
    const before = await snapshot();
    const form = new FormData();
    for (const [k, v] of Object.entries({ password: "violet kettle drums at noon", confirm: "violet kettle drums at noon" })) form.set(k, v);
    for (const token of ["not-a-real-token-but-long-enough", crypto.randomUUID(), ""]) {
      expect(formLevelError(await resetPasswordAction(token, null, form))).toBe("This link was already used or has expired; ask for a new one from the sign-in page.");
    }
    expect(await snapshot()).toEqual(before);
  });
});
