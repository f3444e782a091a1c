import { beforeAll, describe, expect, it } from "vitest";
import type { Environment } from "@/db/schema";
import { countRows, createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { ForbiddenError, ValidationError } from "@/lib/errors";
import { addMembers, createGroup, removeMembers } from "@/lib/groups";
import { createUser, revokeEnvironment, suspendUser } from "@/lib/users";
import { addGrants, listGrants, removeGrant } from "./grants";
import { decide, entitlementsOf, whoCanUse } from "./policy";
import { createResource, deleteResource, listResources, updateResource } from "./resources";

let env: { dev: Environment; test: Environment; prod: Environment };
beforeAll(async () => {
  env = await createEnvironments();
});

const prodRef = () => ({ id: env.prod.id, key: env.prod.key });

describe("resources", () => {
  it("are created, renamed and deleted with their grants, each audited; names are unique per feature", async () => {
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Invoice genie" });
    const dup = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "invoice GENIE" }).catch((e) => e);
    expect((dup as Error).message).toMatch(/already exists|unique|taken/i);
    // The same name in another feature is fine.
    await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Invoice genie" });
    const renamed = await updateResource(systemCtx, genie.id, { name: "Invoices", description: "Answers invoice questions" });
    expect(renamed.name).toBe("Invoices");
    const group = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Finance" });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [group.id] });
    const before = await countRows("access_grants");
    await deleteResource(systemCtx, genie.id);
    expect(await countRows("access_grants")).toBe(before - 1);
    expect((await listResources(env.prod.id, "agent_studio")).map((r) => r.name)).not.toContain("Invoices");
  });

  it("count their own grants on the list (each resource its own, not 0)", async () => {
    const jira = await createResource(systemCtx, { environmentId: env.dev.id, feature: "mcp", name: "Counted Jira" });
    const sf = await createResource(systemCtx, { environmentId: env.dev.id, feature: "mcp", name: "Counted Salesforce" });
    const sales = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Counted sales" });
    const support = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Counted support" });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "mcp", resourceId: sf.id, groupIds: [sales.id, support.id] });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "mcp", resourceId: jira.id, groupIds: [support.id] });
    await addGrants(systemCtx, { environmentId: env.dev.id, feature: "mcp", resourceId: null, groupIds: [sales.id] }); // all of MCP: no resource's own
    const counts = Object.fromEntries((await listResources(env.dev.id, "mcp")).map((r) => [r.name, r.grantCount]));
    expect(counts).toEqual({ "Counted Jira": 1, "Counted Salesforce": 2 });
  });

  it("refuse bad input with field errors and write nothing", async () => {
    const rows = await countRows("resources");
    const blank = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "  " }).catch((e) => e);
    expect(blank).toBeInstanceOf(ValidationError);
    expect((blank as ValidationError).fieldErrors?.name).toEqual(["Name the resource."]);
    const feature = await createResource(systemCtx, { environmentId: env.prod.id, feature: "email", name: "x" }).catch((e) => e);
    expect((feature as ValidationError).fieldErrors?.feature).toEqual(["Choose Agent Studio, Workato GO or MCP."]);
    const scoped = await createResource(memberCtx("environment_admin", [env.dev.id]), { environmentId: env.prod.id, feature: "mcp", name: "Out of scope" }).catch((e) => e);
    expect(scoped).toBeInstanceOf(ForbiddenError);
    expect((scoped as Error).message).toMatch(/outside your scope/);
    const reviewer = await createResource(memberCtx("reviewer"), { environmentId: env.prod.id, feature: "mcp", name: "Reviewer" }).catch((e) => e);
    expect((reviewer as Error).message).toBe("A reviewer cannot change resources.");
    expect(await countRows("resources")).toBe(rows);
  });
});

describe("grants and decisions", () => {
  it("explain the path user → group → grant, prefer the most specific grant, and give the first failing reason", async () => {
    const ana = await createUser(systemCtx, { name: "Ana", email: "ana@example.com", environmentIds: [env.prod.id, env.dev.id] });
    const bo = await createUser(systemCtx, { name: "Bo", email: "bo@example.com", environmentIds: [env.prod.id] });
    // Granted while in PROD, then out of it (a grant names only users of its environment; it outlives their access).
    const outsider = await createUser(systemCtx, { name: "Out", email: "out@example.com", environmentIds: [env.dev.id, env.prod.id] });
    const genie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Payroll genie" });
    const other = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Other genie" });
    const payroll = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Payroll" });
    await addMembers(systemCtx, { groupId: payroll.id, userIds: [ana.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: genie.id, groupIds: [payroll.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: other.id, userIds: [bo.id, outsider.id] });
    await revokeEnvironment(systemCtx, { userId: outsider.id, environmentId: env.prod.id });

    const [viaGroup, denied] = await decide({ environment: prodRef(), user: { email: "ANA@example.com" }, feature: "agent_studio", resources: [genie.id, other.id] });
    expect(viaGroup).toMatchObject({ allow: true, reason: "granted", group: { id: payroll.id, name: "Payroll" }, path: ["user ana@example.com", "member of group Payroll", "grant on “Payroll genie”"] });
    expect(denied).toMatchObject({ allow: false, reason: "no_grant", grant: null });
    const [direct] = await decide({ environment: prodRef(), user: { id: bo.id }, feature: "agent_studio", resources: [other.id] });
    expect(direct).toMatchObject({ allow: true, group: null, path: ["user bo@example.com", "direct grant on “Other genie”"] });

    // A feature-wide grant allows every genie; a resource grant is still preferred as the explanation.
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", userIds: [ana.id] });
    const [specific, wide, feature] = await decide({ environment: prodRef(), user: { id: ana.id }, feature: "agent_studio", resources: [genie.id, other.id, null] });
    expect(specific!.group?.name).toBe("Payroll");
    expect(wide).toMatchObject({ allow: true, grant: { resourceId: null }, path: ["user ana@example.com", "direct grant on all of Agent Studio"] });
    expect(feature!.allow).toBe(true);

    // First failing reason: environment access, suspension, unknown resource or user.
    const [noEnv] = await decide({ environment: prodRef(), user: { id: outsider.id }, feature: "agent_studio", resources: [other.id] });
    // Nothing of a user outside the environment: no email (it was in the path), no status.
    expect(noEnv).toMatchObject({ allow: false, reason: "no_environment_access", message: "The user has no access to this environment.", path: ["the user has no access to prod"] });
    await suspendUser(systemCtx, outsider.id);
    const [noEnvSuspended] = await decide({ environment: prodRef(), user: { id: outsider.id }, feature: "agent_studio", resources: [other.id] });
    expect([noEnvSuspended!.reason, noEnvSuspended!.path]).toEqual(["no_environment_access", ["the user has no access to prod"]]);
    const [wrongFeature] = await decide({ environment: prodRef(), user: { id: ana.id }, feature: "mcp", resources: [genie.id] });
    expect(wrongFeature!.reason).toBe("resource_not_found");
    const [nobody] = await decide({ environment: prodRef(), user: { email: "nobody@example.com" }, feature: "mcp", resources: [null] });
    expect(nobody!.reason).toBe("user_not_found");
    await suspendUser(systemCtx, bo.id);
    const [suspended] = await decide({ environment: prodRef(), user: { id: bo.id }, feature: "agent_studio", resources: [other.id] });
    expect(suspended).toMatchObject({ allow: false, reason: "user_suspended", path: ["user bo@example.com (suspended)"] });
  });

  it("change at once when a member leaves the granted group or loses the environment", async () => {
    const cy = await createUser(systemCtx, { name: "Cy", email: "cy@example.com", environmentIds: [env.prod.id] });
    const mcp = await createResource(systemCtx, { environmentId: env.prod.id, feature: "mcp", name: "Tickets MCP" });
    const ops = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Ops" });
    await addMembers(systemCtx, { groupId: ops.id, userIds: [cy.id] });
    await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: mcp.id, groupIds: [ops.id] });
    const ask = async () => (await decide({ environment: prodRef(), user: { id: cy.id }, feature: "mcp", resources: [mcp.id] }))[0]!;
    expect((await ask()).allow).toBe(true);
    await removeMembers(systemCtx, { groupId: ops.id, userIds: [cy.id] });
    expect(await ask()).toMatchObject({ allow: false, reason: "no_grant" });
    await addMembers(systemCtx, { groupId: ops.id, userIds: [cy.id] });
    await revokeEnvironment(systemCtx, { userId: cy.id, environmentId: env.prod.id });
    expect((await ask()).reason).toBe("no_environment_access");
  });

  it("list who can use a resource with each path, and the entitlements a token carries", async () => {
    const mcp = await createResource(systemCtx, { environmentId: env.test.id, feature: "mcp", name: "Docs MCP" });
    const wo = await createResource(systemCtx, { environmentId: env.test.id, feature: "workato_go", name: "Sales workspace" });
    const dee = await createUser(systemCtx, { name: "Dee", email: "dee@example.com", environmentIds: [env.test.id] });
    const eve = await createUser(systemCtx, { name: "Eve", email: "eve@example.com", environmentIds: [env.test.id] });
    const gone = await createUser(systemCtx, { name: "Gone", email: "gone@example.com", environmentIds: [env.test.id] });
    const docs = await createGroup(systemCtx, { environmentId: env.test.id, name: "Docs team" });
    await addMembers(systemCtx, { groupId: docs.id, userIds: [dee.id, eve.id, gone.id] });
    await addGrants(systemCtx, { environmentId: env.test.id, feature: "mcp", resourceId: mcp.id, groupIds: [docs.id], userIds: [eve.id] });
    await addGrants(systemCtx, { environmentId: env.test.id, feature: "workato_go", userIds: [dee.id] });
    await suspendUser(systemCtx, gone.id);
    const who = await whoCanUse(mcp);
    expect(who.map((w) => `${w.email} via ${w.via} ${w.groupName ?? ""}`.trim()).sort()).toEqual(["dee@example.com via group Docs team", "eve@example.com via group Docs team", "eve@example.com via user"]);
    expect(who.map((w) => w.email)).toEqual(["dee@example.com", "eve@example.com", "eve@example.com"]);
    expect(who.some((w) => w.email === "gone@example.com")).toBe(false);
    const ent = await entitlementsOf(env.test.id, dee.id);
    expect(ent).toEqual({ groups: ["Docs team", "Everyone"], entitlements: { mcp: [mcp.id], workato_go: ["*"] } });
    expect(wo.feature).toBe("workato_go");
  });

  it("refuse grants across environments and features, and remove them audited", async () => {
    const devGroup = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Dev folks" });
    const prodGenie = await createResource(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", name: "Cross genie" });
    const rows = await countRows("access_grants");
    const crossGroup = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: prodGenie.id, groupIds: [devGroup.id] }).catch((e) => e);
    expect((crossGroup as ValidationError).fieldErrors?.groupIds).toEqual(["Some groups are not in this environment."]);
    const crossFeature = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: prodGenie.id, groupIds: [], userIds: [] }).catch((e) => e);
    expect((crossFeature as ValidationError).fieldErrors?.groupIds).toEqual(["Pick at least one group or user."]);
    const prodGroup = await createGroup(systemCtx, { environmentId: env.prod.id, name: "Prod folks" });
    const wrongFeature = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "mcp", resourceId: prodGenie.id, groupIds: [prodGroup.id] }).catch((e) => e);
    expect((wrongFeature as ValidationError).message).toBe("That resource belongs to Agent Studio.");
    expect(await countRows("access_grants")).toBe(rows);
    const added = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: prodGenie.id, groupIds: [prodGroup.id] });
    const again = await addGrants(systemCtx, { environmentId: env.prod.id, feature: "agent_studio", resourceId: prodGenie.id, groupIds: [prodGroup.id] });
    expect([added.added, again.added, again.unchanged]).toEqual([1, 0, 1]);
    const [grant] = await listGrants({ environmentId: env.prod.id, resourceId: prodGenie.id });
    expect(grant!.subject).toMatchObject({ type: "group", name: "Prod folks" });
    const outOfScope = await removeGrant(memberCtx("environment_admin", [env.dev.id]), grant!.id).catch((e) => e);
    expect((outOfScope as Error).message).toMatch(/outside your scope/);
    await removeGrant(systemCtx, grant!.id);
    expect(await listGrants({ environmentId: env.prod.id, resourceId: prodGenie.id })).toEqual([]);
  });
});
