import { beforeAll, describe, expect, it } from "vitest";
import { and, eq, inArray } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents } from "@/db/schema";
import type { Environment } from "@/db/schema";
import { auditActions, countRows, createEnvironments, memberCtx, realMemberCtx, systemCtx } from "@/test-support/fixtures";
import { deleteUsers, revokeEnvironmentFromUsers } from "@/lib/users/bulk";
import { authenticateApiToken, createApiToken } from "@/lib/api-tokens";
import type { DomainContext } from "@/lib/auth/actor";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { addGrants, listGrants } from "@/lib/access/grants";
import { decide, entitlementsOf, whoCanUse } from "@/lib/access/policy";
import { createResource, deleteResource } from "@/lib/access/resources";
import { createUser, suspendUser } from "@/lib/users";
import { decideAccessRequest, listAccessRequests, requestAccess } from "./index";

let env: { dev: Environment; test: Environment; prod: Environment };
let server: { id: string };
let genie: { id: string };
let ana: { id: string };
let anaCtx: DomainContext;

beforeAll(async () => {
  env = await createEnvironments();
  server = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Identity server" });
  genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Payroll genie" });
  ana = await createUser(systemCtx, { name: "Ana", email: "ana@example.com", environmentIds: [env.prod.id] });
  anaCtx = { actor: { type: "end_user", id: ana.id, label: "ana@example.com", environmentIds: [env.prod.id] } };
});

const ask = (input: Record<string, unknown>, ctx = anaCtx) => requestAccess(ctx, { environmentId: env.prod.id, userId: ana.id, reason: "I need it for payroll", ...input });

describe("tool grants", () => {
  it("allow that tool only; the whole server is still refused, and tokens do not list them", async () => {
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: server.id, userIds: [ana.id], tool: "whoami" });
    const at = (input: { tool?: "whoami" | "my_groups"; anyTool?: boolean }) => decide({ environment: env.prod, user: { id: ana.id }, feature: "mcp", resources: [server.id], ...input }, "database");
    expect((await at({ tool: "whoami" }))[0]).toMatchObject({ allow: true, reason: "granted", grant: { tool: "whoami" }, path: ["user ana@example.com", "direct grant on “Identity server” (tool whoami)"] });
    expect((await at({ tool: "my_groups" }))[0]).toMatchObject({ allow: false, reason: "no_grant", path: ["user ana@example.com", "no grant on “Identity server” (tool my_groups) for the user or their groups"] });
    expect((await at({}))[0]).toMatchObject({ allow: false, reason: "no_grant" });
    expect((await at({ anyTool: true }))[0]).toMatchObject({ allow: true });
    expect((await entitlementsOf(env.prod.id, ana.id)).entitlements).toEqual({});
    const [view] = await listGrants({ environmentId: env.prod.id, resourceId: server.id });
    expect(view).toMatchObject({ tool: "whoami", subject: { type: "user", id: ana.id } });
    // "Who can use this" says it is one tool.
    expect((await whoCanUse({ id: server.id, environmentId: env.prod.id, feature: "mcp" })).find((u) => u.userId === ana.id)).toMatchObject({ scope: "resource", tool: "whoami" });
  });

  it("are refused on anything but one MCP server, with the field's reason, writing nothing", async () => {
    const before = await countRows("access_grants");
    const onGenie = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, userIds: [ana.id], tool: "whoami" }).catch((e) => e);
    expect((onGenie as ValidationError).fieldErrors?.tool).toEqual(["A tool can be granted only on one MCP server."]);
    const featureWide = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", userIds: [ana.id], tool: "whoami" }).catch((e) => e);
    expect((featureWide as ValidationError).fieldErrors?.tool).toEqual(["A tool can be granted only on one MCP server."]);
    const unknown = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: server.id, userIds: [ana.id], tool: "rm_rf" }).catch((e) => e);
    expect((unknown as ValidationError).fieldErrors?.tool).toEqual(["Choose one of the MCP tools: whoami, my_groups, my_access, request_access."]);
    expect(await countRows("access_grants")).toBe(before);
  });
});

describe("access requests", () => {
  it("are filed by the user for themselves, once per resource and tool, and audited", async () => {
    const first = await ask({ resourceId: genie.id });
    expect(first).toMatchObject({ created: true, request: { status: "pending", feature: "agent_studio", tool: null, reason: "I need it for payroll" } });
    const again = await ask({ resourceId: genie.id, reason: "Please" });
    expect(again).toEqual({ created: false, request: first.request });
    // Another tool of the same server is another request.
    expect((await ask({ resourceId: server.id, tool: "my_groups" })).created).toBe(true);
    expect((await ask({ resourceId: server.id })).created).toBe(true);
    expect(await auditActions()).toEqual(expect.arrayContaining(["access_request.create"]));
  });

  it("refuse what the user may not ask, with the reason, writing nothing", async () => {
    const before = await countRows("access_requests");
    const other = await createUser(systemCtx, { name: "Bo", email: "bo@example.com", environmentIds: [env.prod.id] });
    const forOther = await requestAccess(anaCtx, { environmentId: env.prod.id, userId: other.id, resourceId: genie.id, reason: "x" }).catch((e) => e);
    expect(forOther).toBeInstanceOf(ForbiddenError);
    expect((forOther as Error).message).toBe("An end user may request access only for themselves.");
    const outside = await requestAccess({ actor: { ...anaCtx.actor, environmentIds: [env.dev.id] } as DomainContext["actor"] }, { environmentId: env.prod.id, userId: ana.id, resourceId: genie.id, reason: "x" }).catch((e) => e);
    expect((outside as Error).message).toBe("This change touches an environment outside your scope.");
    const blank = await ask({ resourceId: genie.id, reason: "  " }).catch((e) => e);
    expect((blank as ValidationError).fieldErrors?.reason).toEqual(["Say why you need this access."]);
    const toolOnGenie = await ask({ resourceId: genie.id, tool: "whoami" }).catch((e) => e);
    expect((toolOnGenie as ValidationError).fieldErrors?.tool).toEqual(["A tool can be requested only on an MCP server."]);
    const devResource = await createResource(systemCtx, { environmentId: env.dev.id, feature: "agent_studio", name: "Dev genie" });
    const elsewhere = await ask({ resourceId: devResource.id }).catch((e) => e);
    expect((elsewhere as ValidationError).fieldErrors?.resourceId).toEqual(["No such resource in PROD."]);
    const already = await ask({ resourceId: server.id, tool: "whoami" }).catch((e) => e);
    expect(already).toBeInstanceOf(ConflictError);
    expect((already as Error).message).toBe("You may already use Identity server (tool whoami): user ana@example.com → direct grant on “Identity server” (tool whoami).");
    const suspended = await createUser(systemCtx, { name: "Cy", email: "cy@example.com", environmentIds: [env.prod.id] });
    await suspendUser(systemCtx, suspended.id);
    const cy = await requestAccess({ actor: { type: "end_user", id: suspended.id, label: "cy@example.com", environmentIds: [env.prod.id] } }, { environmentId: env.prod.id, userId: suspended.id, resourceId: genie.id, reason: "x" }).catch((e) => e);
    expect((cy as Error).message).toBe("Only an active user of PROD can request access there.");
    expect(await countRows("access_requests")).toBe(before);
  });

  it("are approved by an admin of the environment (a direct grant, at once in decisions) or denied with a reason", async () => {
    const pending = await listAccessRequests(systemCtx, { environmentId: env.prod.id, status: "pending" });
    const toGenie = pending.find((r) => r.resourceId === genie.id)!;
    const toTool = pending.find((r) => r.tool === "my_groups")!;
    const toServer = pending.find((r) => r.resourceId === server.id && r.tool === null)!;
    expect(toGenie).toMatchObject({ userEmail: "ana@example.com", resourceName: "Payroll genie" });

    const reviewer = await decideAccessRequest(memberCtx("reviewer"), { requestId: toGenie.id, decision: "approve" }).catch((e) => e);
    expect((reviewer as Error).message).toBe("A reviewer cannot change access requests.");
    const devAdmin = await decideAccessRequest(memberCtx("environment_admin", [env.dev.id]), { requestId: toGenie.id, decision: "approve" }).catch((e) => e);
    expect((devAdmin as Error).message).toBe("This change touches an environment outside your scope.");
    const noComment = await decideAccessRequest(systemCtx, { requestId: toServer.id, decision: "deny" }).catch((e) => e);
    expect((noComment as ValidationError).fieldErrors?.comment).toEqual(["Say why the request is denied: the user sees it."]);
    const missing = await decideAccessRequest(systemCtx, { requestId: crypto.randomUUID(), decision: "approve" }).catch((e) => e);
    expect(missing).toBeInstanceOf(NotFoundError);

    const prodAdmin = memberCtx("environment_admin", [env.prod.id]);
    const approved = await decideAccessRequest(prodAdmin, { requestId: toGenie.id, decision: "approve", comment: "ok" });
    expect(approved).toMatchObject({ status: "approved", comment: "ok", grantId: expect.any(String) });
    expect((await decide({ environment: env.prod, user: { id: ana.id }, feature: "agent_studio", resources: [genie.id] }, "database"))[0]).toMatchObject({ allow: true, grant: { id: approved.grantId } });
    const toolApproved = await decideAccessRequest(prodAdmin, { requestId: toTool.id, decision: "approve" });
    expect((await decide({ environment: env.prod, user: { id: ana.id }, feature: "mcp", resources: [server.id], tool: "my_groups" }, "database"))[0]).toMatchObject({ allow: true, grant: { id: toolApproved.grantId, tool: "my_groups" } });
    const denied = await decideAccessRequest(prodAdmin, { requestId: toServer.id, decision: "deny", comment: "Use the tools you need" });
    expect(denied).toMatchObject({ status: "denied", grantId: null, decidedBy: prodAdmin.actor.label });

    const twice = await decideAccessRequest(prodAdmin, { requestId: toGenie.id, decision: "deny", comment: "changed my mind" }).catch((e) => e);
    expect(twice).toBeInstanceOf(ConflictError);
    expect((twice as Error).message).toBe("This request was already approved.");
    expect(await auditActions()).toEqual(expect.arrayContaining(["access_request.approve", "access_request.deny", "access_grant.create"]));
    // Once decided, the user may ask again (a new open request).
    expect((await ask({ resourceId: server.id, reason: "Please reconsider" })).created).toBe(true);
  });
  it("are not approved by the requester themselves (the same person by email), nor for a user suspended or out of the environment since; a denial still closes them", async () => {
    const treasury = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Treasury genie" });
    const admin = await realMemberCtx("environment_admin", [env.prod.id]);
    const me = await createUser(systemCtx, { name: "Me Myself", email: admin.actor.label.toUpperCase(), environmentIds: [env.prod.id] });
    const mine = await requestAccess({ actor: { type: "end_user", id: me.id, label: me.email, environmentIds: [env.prod.id] } }, { environmentId: env.prod.id, userId: me.id, resourceId: treasury.id, reason: "for me" });
    const grantsBefore = await countRows("access_grants");
    await expect(decideAccessRequest(admin, { requestId: mine.request.id, decision: "approve" })).rejects.toThrow("You cannot approve your own access request: another approver must.");

    const leaver = await createUser(systemCtx, { name: "Leaver", email: "leaver@example.com", environmentIds: [env.prod.id] });
    const leaverCtx: DomainContext = { actor: { type: "end_user", id: leaver.id, label: leaver.email, environmentIds: [env.prod.id] } };
    const asked = await requestAccess(leaverCtx, { environmentId: env.prod.id, userId: leaver.id, resourceId: treasury.id, reason: "need it" });
    await suspendUser(systemCtx, leaver.id);
    await expect(decideAccessRequest(admin, { requestId: asked.request.id, decision: "approve" })).rejects.toThrow("leaver@example.com is suspended: deny the request, or reactivate them first.");
    const mover = await createUser(systemCtx, { name: "Mover", email: "mover@example.com", environmentIds: [env.prod.id] });
    const moved = await requestAccess({ actor: { type: "end_user", id: mover.id, label: mover.email, environmentIds: [env.prod.id] } }, { environmentId: env.prod.id, userId: mover.id, resourceId: treasury.id, reason: "need it" });
    await revokeEnvironmentFromUsers(systemCtx, { environmentId: env.prod.id, userIds: [mover.id] });
    await expect(decideAccessRequest(admin, { requestId: moved.request.id, decision: "approve" })).rejects.toThrow("mover@example.com can no longer enter PROD: deny the request, or grant them the environment first.");
    expect(await countRows("access_grants")).toBe(grantsBefore);
    expect(await decideAccessRequest(admin, { requestId: asked.request.id, decision: "deny", comment: "Suspended" })).toMatchObject({ status: "denied", grantId: null });
    // Nor through an API token the requester made (any scope: the token is theirs).
    const boss = await realMemberCtx("admin");
    const bossUser = await createUser(systemCtx, { name: "Boss", email: boss.actor.label, environmentIds: [env.prod.id] });
    const bossAsks = await requestAccess({ actor: { type: "end_user", id: bossUser.id, label: bossUser.email, environmentIds: [env.prod.id] } }, { environmentId: env.prod.id, userId: bossUser.id, resourceId: treasury.id, reason: "me too" });
    const { token } = await createApiToken(boss, { name: "my automation", scope: "write" });
    const tokenCtx = { actor: (await authenticateApiToken(token))!.actor };
    await expect(decideAccessRequest(tokenCtx, { requestId: bossAsks.request.id, decision: "approve" })).rejects.toThrow("You cannot approve your own access request: another approver must.");
    expect(await decideAccessRequest(systemCtx, { requestId: mine.request.id, decision: "approve" })).toMatchObject({ status: "approved" });
  });

  it("still open when their resource is deleted, are closed in the trail, each with its own row; decided ones are not reopened", async () => {
    const doomed = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Doomed server" });
    const bea = await createUser(systemCtx, { name: "Bea", email: "bea@example.com", environmentIds: [env.prod.id] });
    const beaCtx: DomainContext = { actor: { type: "end_user", id: bea.id, label: bea.email, environmentIds: [env.prod.id] } };
    const open1 = await ask({ resourceId: doomed.id });
    const open2 = await requestAccess(beaCtx, { environmentId: env.prod.id, userId: bea.id, resourceId: doomed.id, tool: "my_groups", reason: "for a report" });
    const denied = await requestAccess(beaCtx, { environmentId: env.prod.id, userId: bea.id, resourceId: doomed.id, reason: "all of it" });
    await decideAccessRequest(systemCtx, { requestId: denied.request.id, decision: "deny", comment: "Too broad" });
    const admin = await realMemberCtx("environment_admin", [env.prod.id]);
    await deleteResource(admin, doomed.id);

    const rows = await getDb()
      .select({ action: auditEvents.action, targetId: auditEvents.targetId, targetLabel: auditEvents.targetLabel, actorLabel: auditEvents.actorLabel, before: auditEvents.before, after: auditEvents.after })
      .from(auditEvents)
      .where(and(eq(auditEvents.action, "access_request.close"), inArray(auditEvents.targetId, [open1.request.id, open2.request.id, denied.request.id])));
    expect(rows.sort((a, b) => a.targetLabel!.localeCompare(b.targetLabel!))).toEqual([
      { action: "access_request.close", targetId: open1.request.id, targetLabel: "ana@example.com → Doomed server", actorLabel: admin.actor.label, before: { status: "pending", userId: ana.id, tool: null, reason: "I need it for payroll" }, after: { status: "closed", why: "The resource was deleted." } },
      { action: "access_request.close", targetId: open2.request.id, targetLabel: "bea@example.com → Doomed server (tool my_groups)", actorLabel: admin.actor.label, before: { status: "pending", userId: bea.id, tool: "my_groups", reason: "for a report" }, after: { status: "closed", why: "The resource was deleted." } },
    ]);
    const [deletion] = await getDb().select({ before: auditEvents.before }).from(auditEvents).where(and(eq(auditEvents.action, "resource.delete"), eq(auditEvents.targetId, doomed.id)));
    expect(deletion!.before).toMatchObject({ name: "Doomed server", openRequests: 2 });
    expect(await listAccessRequests(systemCtx, { environmentId: env.prod.id })).not.toContainEqual(expect.objectContaining({ resourceId: doomed.id }));

    // The same when the user who asked is deleted.
    const dee = await createUser(systemCtx, { name: "Dee", email: "dee.leaving@example.com", environmentIds: [env.prod.id] });
    const deeAsks = await requestAccess({ actor: { type: "end_user", id: dee.id, label: dee.email, environmentIds: [env.prod.id] } }, { environmentId: env.prod.id, userId: dee.id, resourceId: genie.id, reason: "reports" });
    expect(await deleteUsers(admin, [dee.id])).toMatchObject({ changed: [dee.id] });
    const [deeClosed] = await getDb().select({ targetLabel: auditEvents.targetLabel, environmentKey: auditEvents.environmentKey, after: auditEvents.after }).from(auditEvents).where(and(eq(auditEvents.action, "access_request.close"), eq(auditEvents.targetId, deeAsks.request.id)));
    expect(deeClosed).toEqual({ targetLabel: "dee.leaving@example.com → Payroll genie", environmentKey: "prod", after: { status: "closed", why: "The user was deleted." } });
  });
});
