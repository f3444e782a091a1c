import { beforeAll, describe, expect, it } from "vitest";
import { getSql } from "@/db/client";
import type { Environment } from "@/db/schema";
import { addGrants } from "@/lib/access/grants";
import { createResource } from "@/lib/access/resources";
import { createEnvironment } from "@/lib/environments";
import { createGroup } from "@/lib/groups";
import { createIdentityProvider, setGroupMappings } from "@/lib/sso/identity-providers";
import { getEnvironmentAuth, updateEnvironmentAuth } from "@/lib/sso/environment-auth";
import { generateKeyPair, idpMetadata } from "@/lib/sso/testing/test-idp";
import { createEnvironments, memberCtx, systemCtx } from "@/test-support/fixtures";
import { whileHeld } from "@/test-support/while-held";
import { applyPromotion, exportEnvironmentConfig, mayApplyPromotion, planBetween, planPromotion, promoteBetween, type ConfigDocument } from "./promotion";

// Promotion: DEV's configuration exported, planned against TEST, applied in one transaction
// through the domain functions, and a second plan empty; refusals with their reasons.

let env: { dev: Environment; test: Environment; prod: Environment };
let idpName: string;

const count = async (table: string, environmentId: string) => (await getSql().unsafe(`select count(*)::int as n from ${table} where environment_id = $1`, [environmentId]))[0]!.n as number;

beforeAll(async () => {
  env = await createEnvironments();
  const key = generateKeyPair("promotion");
  idpName = "Corporate Okta";
  const idp = await createIdentityProvider(systemCtx, { name: idpName, metadataXml: idpMetadata("https://okta.promotion.example", "https://okta.promotion.example/sso", [key.certBase64]) });
  const partner = await createIdentityProvider(systemCtx, { name: "Partner Okta", metadataXml: idpMetadata("https://okta.partner.example", "https://okta.partner.example/sso", [key.certBase64]) });
  const sales = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Sales", description: "Sellers" });
  await createGroup(systemCtx, { environmentId: env.dev.id, name: "Support" });
  const genie = await createResource(systemCtx, { environmentId: env.dev.id, feature: "agent_studio", name: "Sales genie" });
  const jira = await createResource(systemCtx, { environmentId: env.dev.id, feature: "mcp", name: "Jira MCP", description: "Tickets" });
  const [everyone] = await getSql()<{ id: string }[]>`select id from groups where environment_id = ${env.dev.id} and source = 'system'`;
  await addGrants(systemCtx, { environmentId: env.dev.id, feature: "agent_studio", resourceId: genie.id, groupIds: [sales.id] });
  await addGrants(systemCtx, { environmentId: env.dev.id, feature: "mcp", resourceId: jira.id, tool: "whoami", groupIds: [everyone!.id] });
  await setGroupMappings(systemCtx, idp.id, { environmentId: env.dev.id, mappings: [{ idpValue: "okta-sales", groupId: sales.id }] });
  const auth = await getEnvironmentAuth(env.dev.id);
  await updateEnvironmentAuth(systemCtx, env.dev.id, { ...auth, identityProviderId: idp.id, ssoEnabled: true, enforcement: "optional", jitEnabled: true, jitGroupIds: [sales.id], breakGlassUserIds: [], tokenLifetimeSeconds: 900, additionalIdentityProviders: [{ identityProviderId: partner.id, domains: ["partner.example"] }] });
});

describe("environment promotion", () => {
  let document: ConfigDocument;

  it("exports DEV as one versioned document without users or secrets", async () => {
    document = await exportEnvironmentConfig(systemCtx, "dev");
    expect(document).toMatchObject({
      format: "iam-console/environment-config@1",
      environment: { key: "dev", name: "DEV" },
      groups: [
        { name: "Sales", description: "Sellers" },
        { name: "Support", description: "" },
      ],
      resources: [
        { feature: "agent_studio", name: "Sales genie", description: "" },
        { feature: "mcp", name: "Jira MCP", description: "Tickets" },
      ],
      grants: [
        { feature: "agent_studio", resource: "Sales genie", tool: null, group: "Sales" },
        { feature: "mcp", resource: "Jira MCP", tool: "whoami", group: "Everyone" },
      ],
      signIn: { ssoEnabled: true, identityProvider: idpName, jitEnabled: true, jitGroups: ["Sales"], tokenLifetimeSeconds: 900, additionalIdentityProviders: [{ identityProvider: "Partner Okta", domains: ["partner.example"] }] },
      groupMappings: [{ identityProvider: idpName, idpValue: "okta-sales", group: "Sales" }],
    });
    expect(JSON.stringify(document)).not.toMatch(/@example\.com|BEGIN CERTIFICATE|scim_|iamc_/);
  });

  it("plans TEST: what would be created and changed, then applies it in one audited promotion; a second plan is empty", async () => {
    const plan = await planPromotion(systemCtx, "test", document);
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.label}`)).toEqual([
      "create group Sales",
      "create group Support",
      "create resource Agent Studio “Sales genie”",
      "create resource MCP “Jira MCP”",
      "create grant Sales → Agent Studio “Sales genie”",
      "create grant Everyone → MCP “Jira MCP” (tool whoami)",
      "change sign-in ssoEnabled, identityProvider, jitEnabled, jitGroups, tokenLifetimeSeconds, additionalIdentityProviders",
      `create group mapping ${idpName}: okta-sales → Sales`,
    ]);
    expect(plan.text).toMatch(/^\+ group Sales\n/);
    expect(plan.text).toMatch(/Plan [0-9a-f]{12}: 7 to create, 1 to change, 0 to remove\.$/);

    const applied = await applyPromotion(memberCtx("admin"), "test", { document, planHash: plan.hash });
    expect(applied.hash).toBe(plan.hash);
    const again = await planPromotion(systemCtx, "test", document);
    expect([again.changes, again.text]).toEqual([[], "No changes."]);
    const test = await exportEnvironmentConfig(systemCtx, "test");
    expect({ ...test, environment: undefined, exportedAt: undefined, directories: undefined }).toEqual({ ...document, environment: undefined, exportedAt: undefined, directories: undefined });
    const [audit] = await getSql()<{ before: { plan: string; from: string }; after: { created: number } }[]>`select before, after from audit_events where action = 'environment.promote' and environment_id = ${env.test.id}`;
    expect(audit).toMatchObject({ before: { plan: plan.hash, from: "dev" }, after: { created: 7, changed: 1, removed: 0 } });
  });

  it("removes what the document no longer has (a resource with its grants, a console-made group)", async () => {
    const smaller = { ...document, groups: document.groups.filter((g) => g.name !== "Support"), resources: document.resources.filter((r) => r.name !== "Jira MCP"), grants: document.grants.filter((g) => g.resource !== "Jira MCP") };
    const plan = await planPromotion(systemCtx, "test", smaller);
    expect(plan.changes.map((c) => `${c.action} ${c.kind} ${c.label}`)).toEqual(["remove group Support", "remove resource MCP “Jira MCP”"]);
    await applyPromotion(systemCtx, "test", { document: smaller });
    expect(await count("resources", env.test.id)).toBe(1);
    expect((await planPromotion(systemCtx, "test", smaller)).text).toBe("No changes.");
  });

  it("refuses to apply a plan that is no longer true, and writes nothing", async () => {
    const plan = await planPromotion(systemCtx, "prod", document);
    await createGroup(systemCtx, { environmentId: env.prod.id, name: "Meanwhile" });
    const groupsBefore = await count("groups", env.prod.id);
    const stale = await applyPromotion(systemCtx, "prod", { document, planHash: plan.hash }).catch((e) => e);
    expect([stale.status, stale.message]).toEqual([409, "PROD (or the document) changed since the plan you reviewed: plan again."]);
    expect(await count("groups", env.prod.id)).toBe(groupsBefore);
  });

  it("rolls the whole promotion back when one step is refused", async () => {
    const broken = { ...document, resources: [...document.resources, { feature: "workato_go" as const, name: "W".repeat(150), description: "" }] };
    const before = { groups: await count("groups", env.prod.id), resources: await count("resources", env.prod.id), grants: await count("access_grants", env.prod.id) };
    const refused = await applyPromotion(systemCtx, "prod", { document: broken }).catch((e) => e);
    expect([refused.status, refused.fieldErrors?.name]).toEqual([400, ["A name has at most 100 characters."]]);
    expect({ groups: await count("groups", env.prod.id), resources: await count("resources", env.prod.id), grants: await count("access_grants", env.prod.id) }).toEqual(before);
    expect((await getSql()`select 1 from audit_events where action = 'environment.promote' and environment_id = ${env.prod.id}`).length).toBe(0);
  });

  it("refuses a document that names what TEST lacks, or is not a configuration, with the reason", async () => {
    const unknownIdp = { ...document, signIn: { ...document.signIn, identityProvider: "Nobody's IdP" } };
    const idp = await planPromotion(systemCtx, "test", unknownIdp).catch((e) => e);
    expect([idp.status, idp.message]).toEqual([400, "This document cannot be applied to TEST: There is no identity provider named “Nobody's IdP”: connect it first (Identity providers)."]);
    const noIdp = { ...document, signIn: { ...document.signIn, ssoEnabled: true, identityProvider: null } };
    const sso = await planPromotion(systemCtx, "test", noIdp).catch((e) => e);
    expect([sso.status, sso.message]).toEqual([400, "This document cannot be applied to TEST: The sign-in settings are not valid (identityProviderId): Choose the identity provider for SSO."]);
    const unknownMore = { ...document, signIn: { ...document.signIn, additionalIdentityProviders: [{ identityProvider: "Partner IdP", domains: ["partner.example"] }] } };
    expect((await planPromotion(systemCtx, "test", unknownMore).catch((e) => e)).message).toBe(
      "This document cannot be applied to TEST: There is no identity provider named “Partner IdP” (for partner.example): connect it first (Identity providers).",
    );
    const dangling = { ...document, grants: [...document.grants, { feature: "mcp" as const, resource: null, tool: null, group: "Ghosts" }] };
    expect((await planPromotion(systemCtx, "test", dangling).catch((e) => e)).fieldErrors.document).toEqual(["The grant Ghosts → all of MCP names a group the document does not define."]);
    const notConfig = await planPromotion(systemCtx, "test", { hello: "world" }).catch((e) => e);
    expect(notConfig.fieldErrors.format).toEqual(["Not an environment configuration (format iam-console/environment-config@1): export one with iam env export KEY."]);
    expect((await planPromotion(systemCtx, "staging", document).catch((e) => e)).message).toBe("No environment “staging”.");
  });

  it("refuses to create a group whose name a directory's group already holds there, instead of planning it for ever", async () => {
    const [synced] = await getSql()<{ id: string }[]>`
      insert into groups (environment_id, name, source) values (${env.prod.id}, 'sales', 'scim') returning id`;
    try {
      const clash = await planPromotion(systemCtx, "prod", document).catch((e) => e);
      expect([clash.status, clash.message]).toEqual([400, "This document cannot be applied to PROD: PROD already has a group “Sales” synced by a directory: rename one of them first."]);
    } finally {
      await getSql()`delete from groups where id = ${synced!.id}`;
    }
    expect((await planPromotion(systemCtx, "prod", document)).changes).toContainEqual(expect.objectContaining({ action: "create", kind: "group", label: "Sales" }));
  });

  it("holds each actor to their role and scope: a DEV admin exports DEV but cannot apply to TEST; a reviewer plans but cannot apply", async () => {
    const devAdmin = memberCtx("environment_admin", [env.dev.id]);
    expect((await exportEnvironmentConfig(devAdmin, "dev")).environment.key).toBe("dev");
    expect((await applyPromotion(devAdmin, "test", { document }).catch((e) => e)).message).toBe("This change touches an environment outside your scope.");
    const reviewer = memberCtx("reviewer");
    expect((await planPromotion(reviewer, "test", document)).environment).toBe("test");
    expect((await applyPromotion(reviewer, "test", { document }).catch((e) => e)).message).toBe("A reviewer cannot change groups.");
    // The console offers Apply exactly when the domain would take it.
    expect([mayApplyPromotion(devAdmin.actor, env.test.id), mayApplyPromotion(devAdmin.actor, env.dev.id)]).toEqual([false, true]);
    expect(mayApplyPromotion(reviewer.actor, env.test.id)).toBe(false);
    expect(mayApplyPromotion(systemCtx.actor, env.test.id)).toBe(true);
  });

  it("the console's Promote page: plans DEV → PROD, applies only the plan shown, refuses promoting an environment into itself", async () => {
    const same = await planBetween(systemCtx, "dev", "dev").catch((e) => e);
    expect([same.status, same.fieldErrors.from]).toEqual([400, ["Choose an environment other than the one you promote into."]]);
    expect((await promoteBetween(systemCtx, { from: "dev", to: "prod" }).catch((e) => e)).fieldErrors.planHash).toEqual(["Review the plan first."]);
    const shown = await planBetween(systemCtx, "dev", "prod");
    expect(shown.changes.length).toBeGreaterThan(0);
    // DEV changes after the plan was shown: the shown plan no longer holds.
    const extra = await createGroup(systemCtx, { environmentId: env.dev.id, name: "Late" });
    const stale = await promoteBetween(systemCtx, { from: "dev", to: "prod", planHash: shown.hash }).catch((e) => e);
    expect([stale.status, stale.message]).toEqual([409, "PROD (or the document) changed since the plan you reviewed: plan again."]);
    const fresh = await planBetween(systemCtx, "dev", "prod");
    expect(fresh.changes).toContainEqual(expect.objectContaining({ action: "create", kind: "group", label: extra.name }));
    await promoteBetween(memberCtx("admin"), { from: "dev", to: "prod", planHash: fresh.hash });
    expect((await planBetween(systemCtx, "dev", "prod")).text).toBe("No changes.");
  });

  it("keeps the IdP's mappings onto a directory's group when it applies the mappings of console-made groups", async () => {
    const [idp] = await getSql()<{ id: string }[]>`select id from identity_providers where name = ${idpName}`;
    const idpId = idp!.id;
    const [synced] = await getSql()<{ id: string }[]>`insert into groups (environment_id, name, source) values (${env.test.id}, 'Engineering (dir)', 'scim') returning id`;
    const [sales] = await getSql()<{ id: string }[]>`select id from groups where environment_id = ${env.test.id} and name = 'Sales'`;
    await setGroupMappings(systemCtx, idpId, { environmentId: env.test.id, mappings: [{ idpValue: "okta-sales", groupId: sales!.id }, { idpValue: "okta-eng", groupId: synced!.id }] });
    const base = await exportEnvironmentConfig(systemCtx, "dev");
    const withMarketing = { ...base, groups: [...base.groups, { name: "Marketing", description: "" }], groupMappings: [...base.groupMappings, { identityProvider: idpName, idpValue: "okta-mkt", group: "Marketing" }] };
    const plan = await planPromotion(systemCtx, "test", withMarketing);
    expect(plan.changes.filter((c) => c.kind === "group mapping")).toEqual([{ action: "create", kind: "group mapping", label: `${idpName}: okta-mkt → Marketing` }]);
    await applyPromotion(systemCtx, "test", { document: withMarketing, planHash: plan.hash });
    const mappings = await getSql()<{ value: string; group: string }[]>`
      select m.idp_value as value, g.name as group from group_mappings m join groups g on g.id = m.group_id where m.environment_id = ${env.test.id} order by 1`;
    expect(mappings.map((m) => `${m.value} → ${m.group}`)).toEqual(["okta-eng → Engineering (dir)", "okta-mkt → Marketing", "okta-sales → Sales"]);
  });

  it("refuses in the plan what applying would refuse: a name twice in two cases, a tool outside one MCP server, more IdPs without SSO, an unbounded key", async () => {
    const base = await exportEnvironmentConfig(systemCtx, "dev");
    const reasons = async (doc: unknown) => {
      const e = await planPromotion(systemCtx, "test", doc).catch((error) => error);
      return [e.status, e.fieldErrors?.document ?? e.fieldErrors];
    };
    expect(await reasons({ ...base, groups: [...base.groups, { name: "Dupe", description: "" }, { name: "dupe", description: "" }] })).toEqual([
      400,
      ["The document defines the group “Dupe” twice (group names are compared without case)."],
    ]);
    expect(await reasons({ ...base, grants: [...base.grants, { feature: "agent_studio", resource: "Sales genie", tool: "whoami", group: "Sales" }] })).toEqual([
      400,
      ["The grant Sales → Agent Studio “Sales genie” (tool whoami) names a tool: A tool can be granted only on one MCP server."],
    ]);
    expect(await reasons({ ...base, signIn: { ...base.signIn, ssoEnabled: false, identityProvider: null, enforcement: "optional" } })).toEqual([
      400,
      ["The sign-in settings are not valid (additionalIdentityProviders): Turn on SSO to sign in with more identity providers."],
    ]);
    expect(await reasons({ ...base, environment: { key: "k".repeat(65), name: "DEV" } })).toEqual([400, { "environment.key": ["An environment key has at most 64 characters."] }]);
  });

  it("plans enforced domains as saving stores them, so a second plan after applying is empty", async () => {
    const base = await exportEnvironmentConfig(systemCtx, "dev");
    const shouting = { ...base, signIn: { ...base.signIn, enforcement: "domains" as const, enforcedDomains: ["Example.COM", " example.com"], groupAttribute: "  ", jitGroups: ["Sales", "sales"] } };
    await applyPromotion(systemCtx, "test", { document: shouting });
    expect((await getEnvironmentAuth(env.test.id)).enforcedDomains).toEqual(["example.com"]);
    expect((await planPromotion(systemCtx, "test", shouting)).changes).toEqual([]);
  });

  it("applies one of two plans reviewed against the same state, and refuses the other instead of undoing the first", async () => {
    const current = await exportEnvironmentConfig(systemCtx, "test");
    const alpha = { ...current, groups: [...current.groups, { name: "Alpha", description: "" }] };
    const longer = { ...current, signIn: { ...current.signIn, tokenLifetimeSeconds: current.signIn.tokenLifetimeSeconds + 60 } };
    const [planA, planB] = [await planPromotion(systemCtx, "test", alpha), await planPromotion(systemCtx, "test", longer)];
    // Both applies are held at their first audit row until both are under way, then let go together.
    const holder = await getSql().reserve();
    await holder`begin`;
    await holder`lock table audit_events in share mode`;
    const waiting = async () => (await getSql()<{ n: number }[]>`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)[0]!.n;
    const applies = [applyPromotion(systemCtx, "test", { document: alpha, planHash: planA.hash }), applyPromotion(systemCtx, "test", { document: longer, planHash: planB.hash })].map((p) =>
      p.then(() => "applied", (e) => `${e.status}: ${e.message}`),
    );
    try {
      await expect.poll(waiting, { timeout: 15_000 }).toBe(2);
    } finally {
      await holder`commit`;
      holder.release();
    }
    const outcomes = await Promise.all(applies);
    expect(outcomes.filter((o) => o === "applied")).toHaveLength(1);
    expect(outcomes.filter((o) => o !== "applied")).toEqual(["409: TEST (or the document) changed since the plan you reviewed: plan again."]);
    // What is in TEST now is exactly the plan that was applied.
    const after = await exportEnvironmentConfig(systemCtx, "test");
    const alphaWon = outcomes[0] === "applied";
    expect([after.groups.some((g) => g.name === "Alpha"), after.signIn.tokenLifetimeSeconds]).toEqual([alphaWon, current.signIn.tokenLifetimeSeconds + (alphaWon ? 0 : 60)]);
  });
});

describe("environment promotion: concurrent writes, limits and settling", () => {
  // Each test promotes into environments of its own.
  let made = 0;
  const freshEnv = () => {
    made += 1;
    return createEnvironment(systemCtx, { key: `stage-${made}`, name: `STAGE ${made}` });
  };
  const listed = (plan: { changes: { action: string; kind: string; label: string }[] }) => plan.changes.map((c) => `${c.action} ${c.kind} ${c.label}`);
  const groupId = async (environmentId: string, name: string) => (await getSql()<{ id: string }[]>`select id from groups where environment_id = ${environmentId} and name = ${name}`)[0]!.id;
  // Commits `write` on its own connection, then waits for the held lock (so whileHeld counts it as started).
  const committedMeanwhile = (write: () => Promise<unknown>) => async () => {
    await write();
    await getSql().begin((sql) => sql`lock table audit_events in row exclusive mode`);
    return "committed";
  };

  it("leaves alone a resource and a grant committed while it runs, which its plan never listed", async () => {
    const target = await freshEnv();
    await createGroup(systemCtx, { environmentId: target.id, name: "Sales" });
    const sales = await groupId(target.id, "Sales");
    const base = await exportEnvironmentConfig(systemCtx, target.key);
    const document = { ...base, groups: [...base.groups, { name: "Racer", description: "" }] };
    const plan = await planPromotion(systemCtx, target.key, document);
    expect(listed(plan)).toEqual(["create group Racer"]);
    // The apply waits at its first audit row (after its plan check); another admin's resource and grant commit meanwhile.
    const outcomes = await whileHeld((held) => held`lock table audit_events in share mode`, [
      () => applyPromotion(systemCtx, target.key, { document, planHash: plan.hash }).then(() => "applied"),
      committedMeanwhile(() =>
        getSql().begin(async (sql) => {
          const [genie] = await sql<{ id: string }[]>`insert into resources (environment_id, feature, name) values (${target.id}, 'agent_studio', 'Meanwhile genie') returning id`;
          await sql`insert into access_grants (environment_id, feature, resource_id, group_id) values (${target.id}, 'agent_studio', ${genie!.id}, ${sales})`;
        }),
      ),
    ]);
    expect(outcomes).toEqual(["applied", "committed"]);
    const kept = await getSql()`select r.name from resources r join access_grants g on g.resource_id = r.id where r.environment_id = ${target.id} and g.group_id = ${sales}`;
    expect(kept.map((r) => r.name)).toEqual(["Meanwhile genie"]);
    const [audit] = await getSql()<{ after: { changes: string[] } }[]>`select after from audit_events where action = 'environment.promote' and environment_id = ${target.id}`;
    expect(audit!.after.changes).toEqual(["+ group Racer"]);
  });

  // A row another admin changes while the promotion runs (or that other code touches all the time:
  // a group's member count, a session's activity stamp) does not refuse it: one snapshot for the
  // apply (REPEATABLE READ) was tried, and refused every promotion into a busy environment.
  it("gives a row changed while it ran the document's value, and that row's audit entry says what it replaced", async () => {
    const target = await freshEnv();
    await createGroup(systemCtx, { environmentId: target.id, name: "Sales", description: "Old" });
    const sales = await groupId(target.id, "Sales");
    const base = await exportEnvironmentConfig(systemCtx, target.key);
    const document = { ...base, groups: [{ name: "Aaa", description: "" }, { name: "Sales", description: "New" }] };
    const plan = await planPromotion(systemCtx, target.key, document);
    const outcomes = await whileHeld((held) => held`lock table audit_events in share mode`, [
      () => applyPromotion(systemCtx, target.key, { document, planHash: plan.hash }).then(() => "applied"),
      committedMeanwhile(() => getSql()`update groups set description = 'Theirs' where id = ${sales}`),
    ]);
    expect(outcomes).toEqual(["applied", "committed"]);
    expect((await getSql()`select description from groups where id = ${sales}`)[0]!.description).toBe("New");
    const [update] = await getSql()<{ before: { description: string } }[]>`select before from audit_events where action = 'group.update' and target_id = ${sales}`;
    expect(update!.before.description).toBe("Theirs");
  });

  it("two promotions into different environments that map groups of two IdPs both apply (they take turns), instead of one deadlocking (a 500)", async () => {
    const [one, two] = [await freshEnv(), await freshEnv()];
    const docs = [];
    for (const [target, idps] of [
      [one, [idpName, "Partner Okta"]],
      [two, ["Partner Okta", idpName]],
    ] as const) {
      await createGroup(systemCtx, { environmentId: target.id, name: "Eng" });
      const base = await exportEnvironmentConfig(systemCtx, target.key);
      docs.push({ key: target.key, document: { ...base, groupMappings: idps.map((identityProvider) => ({ identityProvider, idpValue: `eng-${identityProvider}`, group: "Eng" })) } });
    }
    // Each apply is held after it locked its first IdP, at the mappings it writes; let go, each goes on to its other IdP.
    const outcomes = await whileHeld(
      (held) => held`lock table group_mappings in share mode`,
      docs.map(({ key, document }) => () => applyPromotion(systemCtx, key, { document }).then(() => "applied")),
    );
    expect(outcomes).toEqual(["applied", "applied"]);
    expect((await getSql()`select environment_id from group_mappings where environment_id in ${getSql()([one.id, two.id])}`).length).toBe(4);
  });

  it("promotes a group description as long as the console allows (1,000 characters)", async () => {
    const [source, target] = [await freshEnv(), await freshEnv()];
    await createGroup(systemCtx, { environmentId: source.id, name: "Wordy", description: "w".repeat(1000) });
    const document = await exportEnvironmentConfig(systemCtx, source.key);
    const plan = await planPromotion(systemCtx, target.key, document);
    expect(listed(plan)).toEqual(["create group Wordy"]);
    await applyPromotion(systemCtx, target.key, { document, planHash: plan.hash });
    expect((await planPromotion(systemCtx, target.key, document)).text).toBe("No changes.");
    const tooLong = await planPromotion(systemCtx, target.key, { ...document, groups: [{ name: "Wordy", description: "w".repeat(1001) }] }).catch((e) => e);
    expect([tooLong.status, tooLong.fieldErrors?.["groups.0.description"]]).toEqual([400, ["A description has at most 1,000 characters."]]);
  });

  it("promotes JIT sign-in whose default group an IdP's sign-ins made: matched by name where the target has it, left out with a note where not", async () => {
    const [source, target] = [await freshEnv(), await freshEnv()];
    const [idp] = await getSql()<{ id: string }[]>`select id from identity_providers where name = ${idpName}`;
    const [engineers] = await getSql()<{ id: string }[]>`insert into groups (environment_id, name, source) values (${source.id}, 'Okta Engineers', 'saml') returning id`;
    const auth = await getEnvironmentAuth(source.id);
    await updateEnvironmentAuth(systemCtx, source.id, { ...auth, identityProviderId: idp!.id, ssoEnabled: true, enforcement: "optional", jitEnabled: true, jitGroupIds: [engineers!.id], breakGlassUserIds: [], additionalIdentityProviders: [] });
    const document = await exportEnvironmentConfig(systemCtx, source.key);
    expect(document.signIn.jitGroups).toEqual(["Okta Engineers"]);

    const note = `The default group “Okta Engineers” of JIT sign-in is not a group of the document (an IdP's sign-ins or a directory made it in ${source.key.toUpperCase()}), and ${target.name} has no such group yet: JIT sign-ins here join it once it exists and is promoted again (not promoted now).`;
    const plan = await planPromotion(systemCtx, target.key, document);
    expect(listed(plan)).toEqual(["change sign-in ssoEnabled, identityProvider, jitEnabled"]);
    expect(plan.notes).toEqual([note]);
    await applyPromotion(systemCtx, target.key, { document, planHash: plan.hash });
    expect((await planPromotion(systemCtx, target.key, document)).text).toBe(`No changes.\nnote: ${note}`);

    // Once the target's IdP sign-ins have made the group, the next promotion makes it a default group there.
    const [theirs] = await getSql()<{ id: string }[]>`insert into groups (environment_id, name, source) values (${target.id}, 'okta engineers', 'saml') returning id`;
    const next = await planPromotion(systemCtx, target.key, document);
    expect([listed(next), next.notes]).toEqual([["change sign-in jitGroups"], []]);
    await applyPromotion(systemCtx, target.key, { document, planHash: next.hash });
    expect((await getEnvironmentAuth(target.id)).jitGroups.map((g) => g.id)).toEqual([theirs!.id]);
    expect((await planPromotion(systemCtx, target.key, document)).text).toBe("No changes.");
  });

  it("leaves the sign-in settings alone (no new version, no audit row) when the plan changes none of them", async () => {
    const target = await freshEnv();
    const base = await exportEnvironmentConfig(systemCtx, target.key);
    const version = (await getEnvironmentAuth(target.id)).version;
    const document = { ...base, groups: [{ name: "Only a group", description: "" }] };
    const plan = await planPromotion(systemCtx, target.key, document);
    expect(listed(plan)).toEqual(["create group Only a group"]);
    await applyPromotion(systemCtx, target.key, { document, planHash: plan.hash });
    expect((await getEnvironmentAuth(target.id)).version).toBe(version);
    expect((await getSql()`select 1 from audit_events where action = 'environment.auth_update' and environment_id = ${target.id}`).length).toBe(0);
  });

  it("plans descriptions and IdP group values as they are stored (trimmed), so a second plan after applying is empty", async () => {
    const target = await freshEnv();
    const base = await exportEnvironmentConfig(systemCtx, target.key);
    const document = {
      ...base,
      groups: [{ name: "Spaced", description: " padded " }],
      resources: [{ feature: "workato_go" as const, name: "Spaced space", description: "  roomy\t" }],
      groupMappings: [{ identityProvider: idpName, idpValue: " spaced-value ", group: "Spaced" }],
    };
    await applyPromotion(systemCtx, target.key, { document });
    const again = await planPromotion(systemCtx, target.key, document);
    expect([again.changes, again.text]).toEqual([[], "No changes."]);
  });
});
