import "server-only";
import { createHash } from "node:crypto";
import { and, eq, inArray, isNotNull, ne, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { FEATURES, MCP_TOOLS, SECOND_FACTOR_POLICIES, SSO_ENFORCEMENTS, type Feature } from "@/db/enums";
import { accessGrants, directories, groupMappings, groups, identityProviders, resources, type Environment } from "@/db/schema";
import { addGrants, removeGrant, TOOL_ON_ONE_SERVER, toolGrantable } from "@/lib/access/grants";
import { createResource, deleteResource, resourceDescription, updateResource } from "@/lib/access/resources";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inOneTransaction } from "@/lib/domain/transaction";
import { findEnvironmentByKey } from "@/lib/environments";
import { ConflictError, NotFoundError, ValidationError } from "@/lib/errors";
import { createGroup, deleteGroup, groupDescription, updateGroup } from "@/lib/groups";
import { GROUP_SOURCE_WORDS } from "@/lib/groups/overview";
import { authorize, can } from "@/lib/permissions";
import { getEnvironmentAuth, storedDomains, storedGroupAttribute, updateEnvironmentAuth, updateEnvironmentAuthInput } from "@/lib/sso/environment-auth";
import { groupMappingValue, setGroupMappings } from "@/lib/sso/identity-providers";
import { parseInput } from "@/lib/validation";

// Environment promotion: an environment's configuration as one versioned JSON document (groups
// made in the console, resources, group grants, sign-in settings, IdP group mappings, and the IdP
// and directory bindings by name; never users, secrets or anything a directory or an IdP owns),
// the difference between a document and another environment (the plan), and applying it there in
// one transaction through the same domain functions as the console, audited as one promotion with
// the plan's hash. Applying refuses when the environment (or the document) changed since the plan.

export const CONFIG_FORMAT = "iam-console/environment-config@1";

const name = z.string().trim().min(1).max(200);
const signInSchema = z.object({
  passwordEnabled: z.boolean(),
  ssoEnabled: z.boolean(),
  identityProvider: name.nullable().describe("By name: IdPs are account-wide"),
  enforcement: z.enum(SSO_ENFORCEMENTS),
  enforcedDomains: z.array(z.string()).max(100),
  jitEnabled: z.boolean(),
  jitGroups: z.array(name).max(100),
  groupSyncEnabled: z.boolean(),
  groupAttribute: z.string().max(300).nullable(),
  sessionLifetimeMinutes: z.number().int(),
  idleTimeoutMinutes: z.number().int(),
  tokenLifetimeSeconds: z.number().int(),
  // Absent in documents exported before second factors: the target's policy stays.
  secondFactor: z.enum(SECOND_FACTOR_POLICIES).optional(),
  // Absent in documents exported before MCP OAuth: the target's settings stay.
  oauthDynamicRegistration: z.boolean().optional(),
  oauthClientMetadataDocuments: z.boolean().optional(),
  // More IdPs by email domain, by name; absent in documents exported before them: the target's stay.
  additionalIdentityProviders: z.array(z.object({ identityProvider: name, domains: z.array(z.string()).max(100) })).max(20).optional(),
});
export const configDocument = z.object({
  format: z.literal(CONFIG_FORMAT, { error: `Not an environment configuration (format ${CONFIG_FORMAT}): export one with iam env export KEY.` }),
  environment: z.object({ key: z.string().max(64, "An environment key has at most 64 characters."), name: z.string().max(200, "An environment name has at most 200 characters.") }),
  exportedAt: z.string().optional(),
  // Descriptions and IdP group values by their writers' own rules (limits, trimmed as stored): a
  // document a valid environment exports is one it can promote, and its plan compares what is stored.
  groups: z.array(z.object({ name, description: groupDescription })).max(10_000),
  resources: z.array(z.object({ feature: z.enum(FEATURES), name, description: resourceDescription })).max(10_000),
  grants: z
    .array(z.object({ feature: z.enum(FEATURES), resource: name.nullable(), tool: z.enum(MCP_TOOLS).nullable(), group: name }))
    .max(50_000),
  signIn: signInSchema,
  groupMappings: z.array(z.object({ identityProvider: name, idpValue: groupMappingValue, group: name })).max(10_000),
  directories: z.array(z.object({ name, identityProvider: name.nullable() })).max(1000),
});
export type ConfigDocument = z.output<typeof configDocument>;

export type PlannedChange = { action: "create" | "change" | "remove"; kind: "group" | "resource" | "grant" | "sign-in" | "group mapping"; label: string; before?: unknown; after?: unknown };
export type Plan = { environment: string; from: string; hash: string; changes: PlannedChange[]; notes: string[]; text: string };

const lower = (s: string) => s.trim().toLowerCase();
/** Stands for "an IdP is named" when the sign-in settings are checked before the IdP's id is known. */
const PRESENT = "00000000-0000-4000-8000-000000000000";
const PROMOTED_GROUP_SOURCES = ["manual", "system"] as const;
const FEATURE_WORD: Record<Feature, string> = { agent_studio: "Agent Studio", workato_go: "Workato GO", mcp: "MCP" };

/** The environment's configuration as it is now, in the document's shape (sorted, so equal means equal). */
async function configOf(environment: Environment, executor: Executor = getDb()): Promise<ConfigDocument> {
  const [groupRows, resourceRows, grantRows, auth, mappingRows, directoryRows] = await Promise.all([
    executor.select({ name: groups.name, description: groups.description }).from(groups).where(and(eq(groups.environmentId, environment.id), eq(groups.source, "manual"))),
    executor.select({ feature: resources.feature, name: resources.name, description: resources.description }).from(resources).where(eq(resources.environmentId, environment.id)),
    executor
      .select({ feature: accessGrants.feature, resource: resources.name, tool: accessGrants.tool, group: groups.name })
      .from(accessGrants)
      .innerJoin(groups, eq(groups.id, accessGrants.groupId))
      .leftJoin(resources, eq(resources.id, accessGrants.resourceId))
      // Grants to console-made groups and Everyone; a directory's or an IdP's groups are theirs, not promoted.
      .where(and(eq(accessGrants.environmentId, environment.id), isNotNull(accessGrants.groupId), inArray(groups.source, PROMOTED_GROUP_SOURCES))),
    getEnvironmentAuth(environment.id, executor),
    executor
      .select({ identityProvider: identityProviders.name, idpValue: groupMappings.idpValue, group: groups.name })
      .from(groupMappings)
      .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.identityProviderId))
      .innerJoin(groups, eq(groups.id, groupMappings.groupId))
      .where(and(eq(groupMappings.environmentId, environment.id), eq(groups.source, "manual"))),
    executor
      .select({ name: directories.name, identityProvider: identityProviders.name })
      .from(directories)
      .leftJoin(identityProviders, eq(identityProviders.id, directories.identityProviderId))
      .where(eq(directories.environmentId, environment.id)),
  ]);
  const by = <T>(key: (t: T) => string) => (a: T, b: T) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0);
  return {
    format: CONFIG_FORMAT,
    environment: { key: environment.key, name: environment.name },
    groups: groupRows.sort(by((g) => lower(g.name))),
    resources: resourceRows.sort(by((r) => `${r.feature}/${lower(r.name)}`)),
    grants: grantRows.map((g) => ({ feature: g.feature, resource: g.resource, tool: g.tool, group: g.group })).sort(by(grantKey)),
    signIn: {
      passwordEnabled: auth.passwordEnabled,
      ssoEnabled: auth.ssoEnabled,
      identityProvider: auth.identityProvider?.name ?? null,
      enforcement: auth.enforcement,
      enforcedDomains: [...auth.enforcedDomains].sort(),
      jitEnabled: auth.jitEnabled,
      jitGroups: auth.jitGroups.map((g) => g.name).sort(),
      groupSyncEnabled: auth.groupSyncEnabled,
      groupAttribute: auth.groupAttribute,
      sessionLifetimeMinutes: auth.sessionLifetimeMinutes,
      idleTimeoutMinutes: auth.idleTimeoutMinutes,
      tokenLifetimeSeconds: auth.tokenLifetimeSeconds,
      secondFactor: auth.secondFactor,
      oauthDynamicRegistration: auth.oauthDynamicRegistration,
      oauthClientMetadataDocuments: auth.oauthClientMetadataDocuments,
      additionalIdentityProviders: auth.additionalIdentityProviders.map((a) => ({ identityProvider: a.name, domains: [...a.domains].sort() })).sort(by((a) => lower(a.identityProvider))),
    },
    groupMappings: mappingRows.sort(by((m) => `${lower(m.identityProvider)}/${m.idpValue}/${lower(m.group)}`)),
    directories: directoryRows.sort(by((d) => lower(d.name))),
  };
}

const grantKey = (g: { feature: string; resource: string | null; tool: string | null; group: string }) => `${g.feature}/${lower(g.resource ?? "*")}/${g.tool ?? "*"}/${lower(g.group)}`;
const grantLabel = (g: ConfigDocument["grants"][number]) =>
  `${g.group} → ${g.resource ? `${FEATURE_WORD[g.feature]} “${g.resource}”${g.tool ? ` (tool ${g.tool})` : ""}` : `all of ${FEATURE_WORD[g.feature]}`}`;
// The plan's labels, which apply also matches to remove only what the plan listed.
const resourceLabel = (r: { feature: Feature; name: string }) => `${FEATURE_WORD[r.feature]} “${r.name}”`;
const mappingLabel = (m: { identityProvider: string; idpValue: string; group: string }) => `${m.identityProvider}: ${m.idpValue} → ${m.group}`;

async function environmentNamed(key: string): Promise<Environment> {
  const environment = await findEnvironmentByKey(key);
  if (!environment) throw new NotFoundError(`No environment “${key}”.`);
  return environment;
}

/** What a promotion reads and writes: reading an environment's configuration, and applying one, need all of them. */
const PROMOTED = ["groups", "resources", "access_grants", "environment_auth"] as const;

/** Whether the actor may apply a promotion into the environment (the console shows Apply only then). */
export const mayApplyPromotion = (actor: Actor, environmentId: string): boolean => PROMOTED.every((r) => can(actor, r, "write", [environmentId]));

function readAuthorized(ctx: DomainContext, environmentId: string) {
  for (const resource of PROMOTED) authorize(ctx.actor, resource, "read", [environmentId]);
}

/** `iam env export KEY`: the environment's configuration document. */
export async function exportEnvironmentConfig(ctx: DomainContext, key: string): Promise<ConfigDocument> {
  const environment = await environmentNamed(key);
  readAuthorized(ctx, environment.id);
  return { ...(await configOf(environment)), exportedAt: new Date().toISOString() };
}

const canonical = (value: unknown): string =>
  JSON.stringify(value, (_k, v) => (v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : 1))) : v));

/** The names (as given first) that appear more than once, compared without case. */
function twice(names: string[]): string[] {
  const seen = new Map<string, number>();
  for (const n of names) seen.set(lower(n), (seen.get(lower(n)) ?? 0) + 1);
  return [...new Set(names.filter((n) => seen.get(lower(n))! > 1).map((n) => names.find((m) => lower(m) === lower(n))!))];
}

/** The difference between `desired` and `current`: what applying would create, change and remove. */
function diff(
  current: ConfigDocument,
  desired: ConfigDocument,
  accountIdps: Set<string>,
  otherGroups: Map<string, { name: string; source: string }>,
): { changes: PlannedChange[]; notes: string[]; errors: string[]; signIn: ConfigDocument["signIn"] } {
  const changes: PlannedChange[] = [];
  const notes: string[] = [];
  const errors: string[] = [];
  const currentGroups = new Map(current.groups.map((g) => [lower(g.name), g]));
  const desiredGroups = new Map(desired.groups.map((g) => [lower(g.name), g]));
  // Names are one group (or resource) whatever their case: a document naming one twice cannot be applied.
  for (const name of twice(desired.groups.map((g) => g.name))) errors.push(`The document defines the group “${name}” twice (group names are compared without case).`);
  for (const name of twice(desired.resources.map(resourceLabel))) errors.push(`The document defines the resource ${name} twice (names are compared without case).`);
  for (const [k, g] of desiredGroups) {
    const now = currentGroups.get(k);
    // A group of the same name that a directory or IdP sign-ins own is not the console's to replace.
    const owned = otherGroups.get(k);
    if (!now && owned) errors.push(`${current.environment.name} already has a group “${g.name}” ${GROUP_SOURCE_WORDS[owned.source] ?? `from ${owned.source}`}: rename one of them first.`);
    else if (!now) changes.push({ action: "create", kind: "group", label: g.name, after: { description: g.description } });
    else if (now.description !== g.description) changes.push({ action: "change", kind: "group", label: g.name, before: { description: now.description }, after: { description: g.description } });
  }
  for (const [k, g] of currentGroups) if (!desiredGroups.has(k)) changes.push({ action: "remove", kind: "group", label: g.name });

  const rkey = (r: { feature: string; name: string }) => `${r.feature}/${lower(r.name)}`;
  const currentResources = new Map(current.resources.map((r) => [rkey(r), r]));
  const desiredResources = new Map(desired.resources.map((r) => [rkey(r), r]));
  for (const [k, r] of desiredResources) {
    const now = currentResources.get(k);
    const label = resourceLabel(r);
    if (!now) changes.push({ action: "create", kind: "resource", label, after: { description: r.description } });
    else if (now.description !== r.description) changes.push({ action: "change", kind: "resource", label, before: { description: now.description }, after: { description: r.description } });
  }
  for (const [k, r] of currentResources) if (!desiredResources.has(k)) changes.push({ action: "remove", kind: "resource", label: resourceLabel(r) });

  // References inside the document must resolve: to its own groups and resources (or Everyone).
  const knownGroup = (g: string) => desiredGroups.has(lower(g)) || lower(g) === "everyone";
  for (const g of desired.grants) {
    if (!knownGroup(g.group)) errors.push(`The grant ${grantLabel(g)} names a group the document does not define.`);
    // As the grants' own rule (lib/access/grants): a tool is granted on one MCP server.
    if (!toolGrantable(g.feature, g.resource, g.tool)) errors.push(`The grant ${grantLabel(g)} names a tool: ${TOOL_ON_ONE_SERVER}`);
    if (g.resource && !desiredResources.has(rkey({ feature: g.feature, name: g.resource }))) errors.push(`The grant ${grantLabel(g)} names a resource the document does not define.`);
  }
  const currentGrants = new Map(current.grants.map((g) => [grantKey(g), g]));
  const desiredGrants = new Map(desired.grants.map((g) => [grantKey(g), g]));
  for (const [k, g] of desiredGrants) if (!currentGrants.has(k)) changes.push({ action: "create", kind: "grant", label: grantLabel(g) });
  for (const [k, g] of currentGrants) {
    // Grants of a removed resource or group go with it; list only the others.
    const resourceGoes = g.resource && !desiredResources.has(rkey({ feature: g.feature, name: g.resource }));
    const groupGoes = !knownGroup(g.group) && currentGroups.has(lower(g.group));
    if (!desiredGrants.has(k) && !resourceGoes && !groupGoes) changes.push({ action: "remove", kind: "grant", label: grantLabel(g) });
  }

  // A default group of JIT sign-in is a group of the document or, when a directory or IdP sign-ins
  // made it where the document comes from (export writes its name; such groups are not the
  // document's), the target's group of that name that they made. Where the target has none yet it
  // is left out, with a note, rather than the whole export refused: the next promotion after the
  // group appears adds it. Everyone is joined anyway (the sign-in settings refuse it).
  const jitGroups: string[] = [];
  for (const g of desired.signIn.jitGroups) {
    const ours = desiredGroups.get(lower(g));
    const theirs = otherGroups.get(lower(g));
    if (ours) jitGroups.push(ours.name);
    else if (theirs && theirs.source !== "system") jitGroups.push(theirs.name);
    else if (theirs || lower(g) === "everyone") errors.push(`The default group “${g}” of JIT sign-in is not a group of the document.`);
    else {
      notes.push(
        `The default group “${g}” of JIT sign-in is not a group of the document (an IdP's sign-ins or a directory made it in ${desired.environment.key.toUpperCase()}), and ${current.environment.name} has no such group yet: JIT sign-ins here join it once it exists and is promoted again (not promoted now).`,
      );
    }
  }
  const signInBefore = current.signIn;
  const signInAfter = {
    ...desired.signIn,
    // As updateEnvironmentAuth stores them (and each default group once), or the plan would differ
    // from what applying wrote for ever.
    enforcedDomains: storedDomains(desired.signIn.enforcedDomains).sort(),
    groupAttribute: storedGroupAttribute(desired.signIn.groupAttribute),
    jitGroups: [...new Set(jitGroups)].sort(),
    additionalIdentityProviders: desired.signIn.additionalIdentityProviders
      ? desired.signIn.additionalIdentityProviders.map((a) => ({ identityProvider: a.identityProvider, domains: storedDomains(a.domains).sort() })).sort((x, y) => (lower(x.identityProvider) < lower(y.identityProvider) ? -1 : 1))
      : signInBefore.additionalIdentityProviders,
  };
  const changed = (Object.keys(signInAfter) as (keyof typeof signInAfter)[]).filter((k) => canonical(signInBefore[k]) !== canonical(signInAfter[k]));
  if (changed.length) {
    changes.push({ action: "change", kind: "sign-in", label: changed.join(", "), before: Object.fromEntries(changed.map((k) => [k, signInBefore[k]])), after: Object.fromEntries(changed.map((k) => [k, signInAfter[k]])) });
  }
  // The sign-in settings must pass the same rules as saving them in the console (SSO needs an IdP, …).
  // IdPs stand in by name: the main one as PRESENT, each other name as an id of its own (so one named twice is twice the same).
  const standIn = new Map<string, string>();
  const standInFor = (n: string) => standIn.get(lower(n)) ?? standIn.set(lower(n), `00000000-0000-4000-8000-${String(standIn.size + 1).padStart(12, "0")}`).get(lower(n))!;
  const valid = updateEnvironmentAuthInput.safeParse({
    ...signInAfter,
    identityProvider: undefined,
    jitGroups: undefined,
    identityProviderId: signInAfter.identityProvider ? PRESENT : null,
    additionalIdentityProviders: desired.signIn.additionalIdentityProviders?.map((a) => ({
      identityProviderId: signInAfter.identityProvider && lower(a.identityProvider) === lower(signInAfter.identityProvider) ? PRESENT : standInFor(a.identityProvider),
      domains: a.domains,
    })),
  });
  if (!valid.success) for (const issue of valid.error.issues) errors.push(`The sign-in settings are not valid (${issue.path.join(".")}): ${issue.message}`);
  if (signInAfter.identityProvider && !accountIdps.has(lower(signInAfter.identityProvider))) errors.push(`There is no identity provider named “${signInAfter.identityProvider}”: connect it first (Identity providers).`);
  for (const a of signInAfter.additionalIdentityProviders ?? []) {
    if (!accountIdps.has(lower(a.identityProvider))) errors.push(`There is no identity provider named “${a.identityProvider}” (for ${a.domains.join(", ")}): connect it first (Identity providers).`);
    else if (signInAfter.identityProvider && lower(a.identityProvider) === lower(signInAfter.identityProvider)) errors.push(`“${a.identityProvider}” is already the main identity provider; do not list it for domains too.`);
  }

  const mkey = (m: { identityProvider: string; idpValue: string; group: string }) => `${lower(m.identityProvider)}/${m.idpValue}/${lower(m.group)}`;
  const currentMappings = new Map(current.groupMappings.map((m) => [mkey(m), m]));
  const desiredMappings = new Map(desired.groupMappings.map((m) => [mkey(m), m]));
  for (const [k, m] of desiredMappings) {
    if (!accountIdps.has(lower(m.identityProvider))) errors.push(`There is no identity provider named “${m.identityProvider}” for the mapping ${m.idpValue} → ${m.group}.`);
    else if (!desiredGroups.has(lower(m.group))) errors.push(`The mapping ${m.idpValue} → ${m.group} names a group the document does not define.`);
    if (!currentMappings.has(k)) changes.push({ action: "create", kind: "group mapping", label: mappingLabel(m) });
  }
  for (const [k, m] of currentMappings) if (!desiredMappings.has(k) && desiredGroups.has(lower(m.group))) changes.push({ action: "remove", kind: "group mapping", label: mappingLabel(m) });

  const currentDirectories = new Set(current.directories.map((d) => lower(d.name)));
  for (const d of desired.directories) {
    if (!currentDirectories.has(lower(d.name))) notes.push(`${desired.environment.key.toUpperCase()}'s directory “${d.name}” has no counterpart here; a directory carries its own token, so create it here and give its token to the IdP (not promoted).`);
  }
  return { changes, notes, errors, signIn: signInAfter };
}

const SIGN = { create: "+", change: "~", remove: "-" } as const;

function planText(plan: Omit<Plan, "text">): string {
  if (plan.changes.length === 0) return ["No changes.", ...plan.notes.map((n) => `note: ${n}`)].join("\n");
  const lines = plan.changes.map((c) => `${SIGN[c.action]} ${c.kind} ${c.label}${c.action === "change" ? `: ${canonical(c.before)} → ${canonical(c.after)}` : ""}`);
  const count = (a: PlannedChange["action"]) => plan.changes.filter((c) => c.action === a).length;
  return [...lines, ...plan.notes.map((n) => `note: ${n}`), `Plan ${plan.hash.slice(0, 12)}: ${count("create")} to create, ${count("change")} to change, ${count("remove")} to remove.`].join("\n");
}

/** The plan, and the sign-in settings as applying it would save them (default groups resolved in the target). */
async function planned(environment: Environment, document: ConfigDocument, executor: Executor = getDb()): Promise<{ plan: Plan; signIn: ConfigDocument["signIn"] }> {
  const [current, idps, others] = await Promise.all([
    configOf(environment, executor),
    executor.select({ name: identityProviders.name }).from(identityProviders),
    executor.select({ name: groups.name, source: groups.source }).from(groups).where(and(eq(groups.environmentId, environment.id), ne(groups.source, "manual"))),
  ]);
  const desired = { ...document, exportedAt: undefined };
  const { changes, notes, errors, signIn } = diff(current, desired, new Set(idps.map((i) => lower(i.name))), new Map(others.map((g) => [lower(g.name), g])));
  if (errors.length) throw new ValidationError(`This document cannot be applied to ${environment.name}: ${errors[0]}`, { document: errors });
  // What the plan was made from: the environment as it is and the document asked for, and what it
  // would change (which also depends on groups of the target no document holds: JIT default groups).
  const hash = createHash("sha256")
    .update(canonical({ current: { ...current, directories: undefined }, desired: { ...desired, environment: undefined, directories: undefined }, changes }))
    .digest("hex");
  const plan = { environment: environment.key, from: document.environment.key, hash, changes, notes };
  return { plan: { ...plan, text: planText(plan) }, signIn };
}

/** `iam env plan KEY --from FILE`: what applying the document to KEY would create, change and remove. */
export async function planPromotion(ctx: DomainContext, key: string, input: unknown): Promise<Plan> {
  const document = parseInput(configDocument, input);
  const environment = await environmentNamed(key);
  readAuthorized(ctx, environment.id);
  return (await planned(environment, document)).plan;
}

export const applyInput = z.object({ document: z.unknown(), planHash: z.string().regex(/^[0-9a-f]{64}$/, "Pass the hash of the plan you reviewed (from plan).").optional() });

/**
 * `iam env apply KEY --from FILE`: makes KEY match the document, in one transaction through the
 * domain functions (each checks its permission and scope and writes its own audit row), plus one
 * `environment.promote` row with the plan's hash. With `planHash`, refuses when the plan today is
 * not the reviewed one (the environment or the document changed since).
 */
export async function applyPromotion(ctx: DomainContext, key: string, input: unknown): Promise<Plan> {
  const { document: raw, planHash } = parseInput(applyInput, input);
  const document = parseInput(configDocument, raw);
  const environment = await environmentNamed(key);
  for (const resource of PROMOTED) authorize(ctx.actor, resource, "write", [environment.id]);
  // Apply removes only what the plan listed: what another admin commits meanwhile (a resource, a
  // grant, a mapping, through the console or the API, which no lock of ours holds up) is left
  // alone, and the promotion's audit row lists what it did. What it creates and changes is the
  // document's: a row changed meanwhile gets the document's value, and that row's own audit entry
  // says what it replaced. (One snapshot for the whole apply, REPEATABLE READ, was tried: every
  // session's activity stamp and every group's member count, which other code updates all the
  // time, then refused the promotion as a concurrent change, again on every retry.) The domain
  // functions write their own tables, as savepoints of this transaction.
  return inOneTransaction(async (tx) => {
    // One promotion at a time in the account: a second waits here, then plans against what the
    // first committed (and, with the hash of a plan made before, is refused) instead of undoing it;
    // two into different environments no longer meet on the IdP rows of their mappings (a deadlock).
    await tx.execute(sql`select pg_advisory_xact_lock(hashtext('environment_promotion'))`);
    const { plan, signIn } = await planned(environment, document, tx);
    if (planHash && plan.hash !== planHash) throw new ConflictError(`${environment.name} (or the document) changed since the plan you reviewed: plan again.`);
    if (plan.changes.length === 0) return plan;
    await applyChanges(ctx, tx, environment, document, { ...plan, signIn });
    await recordAudit(tx, ctx, {
      action: "environment.promote",
      targetType: "environment",
      targetId: environment.id,
      targetLabel: environment.name,
      environment,
      before: { plan: plan.hash, from: document.environment.key },
      after: {
        created: plan.changes.filter((c) => c.action === "create").length,
        changed: plan.changes.filter((c) => c.action === "change").length,
        removed: plan.changes.filter((c) => c.action === "remove").length,
        changes: plan.changes.map((c) => `${SIGN[c.action]} ${c.kind} ${c.label}`),
      },
    });
    return plan;
  });
}

async function applyChanges(ctx: DomainContext, tx: Executor, environment: Environment, document: ConfigDocument, plan: Plan & { signIn: ConfigDocument["signIn"] }): Promise<void> {
  const env = environment.id;
  // Only what the plan listed goes: a group, resource, grant or mapping made since it was planned stays.
  const listedRemovals = new Set(plan.changes.filter((c) => c.action === "remove").map((c) => `${c.kind} ${c.label}`));
  const listedRemoval = (kind: string, label: string) => listedRemovals.has(`${kind} ${label}`);
  // Groups: create and describe the document's; every group by lower-case name afterwards.
  const existing = await tx.select({ id: groups.id, name: groups.name, description: groups.description, source: groups.source }).from(groups).where(eq(groups.environmentId, env));
  const groupId = new Map(existing.map((g) => [lower(g.name), g.id]));
  for (const g of document.groups) {
    const now = existing.find((e) => lower(e.name) === lower(g.name));
    if (!now) groupId.set(lower(g.name), (await createGroup(ctx, { environmentId: env, name: g.name, description: g.description })).id);
    else if (now.source === "manual" && now.description !== g.description) await updateGroup(ctx, now.id, { description: g.description });
  }
  // Resources.
  const rkey = (feature: string, n: string) => `${feature}/${lower(n)}`;
  const existingResources = await tx.select().from(resources).where(eq(resources.environmentId, env));
  const resourceId = new Map(existingResources.map((r) => [rkey(r.feature, r.name), r.id]));
  for (const r of document.resources) {
    const now = existingResources.find((e) => rkey(e.feature, e.name) === rkey(r.feature, r.name));
    if (!now) resourceId.set(rkey(r.feature, r.name), (await createResource(ctx, { environmentId: env, feature: r.feature, name: r.name, description: r.description })).id);
    else if (now.description !== r.description) await updateResource(ctx, now.id, { name: now.name, description: r.description });
  }
  // Sign-in settings, only when the plan changes them (saving bumps their version and is audited);
  // as the plan resolved them; break-glass users are people of this environment: kept as they are.
  const s = plan.signIn;
  const accountIdps = await tx.select({ id: identityProviders.id, name: identityProviders.name }).from(identityProviders);
  const idpIdByName = new Map(accountIdps.map((i) => [lower(i.name), i.id]));
  const idpNameById = new Map(accountIdps.map((i) => [i.id, i.name]));
  if (plan.changes.some((c) => c.kind === "sign-in")) await updateEnvironmentAuth(ctx, env, {
    passwordEnabled: s.passwordEnabled,
    ssoEnabled: s.ssoEnabled,
    identityProviderId: s.identityProvider ? (idpIdByName.get(lower(s.identityProvider)) ?? null) : null,
    enforcement: s.enforcement,
    enforcedDomains: s.enforcedDomains,
    breakGlassUserIds: (await getEnvironmentAuth(env, tx)).breakGlassUsers.map((u) => u.id),
    jitEnabled: s.jitEnabled,
    jitGroupIds: s.jitGroups.map((g) => groupId.get(lower(g))!),
    groupSyncEnabled: s.groupSyncEnabled,
    groupAttribute: s.groupAttribute,
    sessionLifetimeMinutes: s.sessionLifetimeMinutes,
    idleTimeoutMinutes: s.idleTimeoutMinutes,
    tokenLifetimeSeconds: s.tokenLifetimeSeconds,
    secondFactor: s.secondFactor,
    oauthDynamicRegistration: s.oauthDynamicRegistration,
    oauthClientMetadataDocuments: s.oauthClientMetadataDocuments,
    ...(s.additionalIdentityProviders
      ? { additionalIdentityProviders: s.additionalIdentityProviders.map((a) => ({ identityProviderId: idpIdByName.get(lower(a.identityProvider))!, domains: a.domains })) }
      : {}),
  });
  // Group mappings, per IdP that has any here or in the document (mappings to groups not promoted are kept).
  const currentMappings = await tx
    .select({ idpId: groupMappings.identityProviderId, idpValue: groupMappings.idpValue, groupId: groupMappings.groupId, groupName: groups.name, source: groups.source })
    .from(groupMappings)
    .innerJoin(groups, eq(groups.id, groupMappings.groupId))
    .where(eq(groupMappings.environmentId, env));
  const documentGroups = new Set(document.groups.map((g) => lower(g.name)));
  // Promoted are the mappings onto console-made groups; those onto a directory's or an IdP's groups
  // are no document's (the plan does not list them) and stay as they are.
  // A promoted mapping the document lacks goes only when the plan listed it (one made since stays).
  const promoted = (m: (typeof currentMappings)[number]) =>
    m.source === "manual" && documentGroups.has(lower(m.groupName)) && listedRemoval("group mapping", mappingLabel({ identityProvider: idpNameById.get(m.idpId)!, idpValue: m.idpValue, group: m.groupName }));
  const idpIds = new Set([...currentMappings.filter((m) => m.source === "manual").map((m) => m.idpId), ...document.groupMappings.map((m) => idpIdByName.get(lower(m.identityProvider))!)]);
  // Each IdP's mappings are saved under a lock of its row, taken in one order (by id): promotions
  // take turns anyway, and a writer saving several IdPs' mappings should take them in this order.
  for (const idpId of [...idpIds].sort()) {
    const kept = currentMappings.filter((m) => m.idpId === idpId && !promoted(m)).map((m) => ({ idpValue: m.idpValue, groupId: m.groupId }));
    const wanted = document.groupMappings.filter((m) => idpIdByName.get(lower(m.identityProvider)) === idpId).map((m) => ({ idpValue: m.idpValue, groupId: groupId.get(lower(m.group))! }));
    const mappings = [...new Map([...kept, ...wanted].map((m) => [`${m.idpValue}/${m.groupId}`, m])).values()];
    const before = currentMappings.filter((m) => m.idpId === idpId).map((m) => `${m.idpValue}/${m.groupId}`).sort();
    const after = mappings.map((m) => `${m.idpValue}/${m.groupId}`).sort();
    if (canonical(before) !== canonical(after)) await setGroupMappings(ctx, idpId, { environmentId: env, mappings });
  }
  // Grants: add the document's, remove the group grants it does not have.
  const wantedGrants = new Set(document.grants.map(grantKey));
  for (const g of document.grants) {
    await addGrants(ctx, { environmentId: env, feature: g.feature, resourceId: g.resource ? resourceId.get(rkey(g.feature, g.resource))! : null, tool: g.tool, groupIds: [groupId.get(lower(g.group))!] });
  }
  const currentGrants = await tx
    .select({ id: accessGrants.id, feature: accessGrants.feature, resource: resources.name, tool: accessGrants.tool, group: groups.name })
    .from(accessGrants)
    .innerJoin(groups, eq(groups.id, accessGrants.groupId))
    .leftJoin(resources, eq(resources.id, accessGrants.resourceId))
    .where(and(eq(accessGrants.environmentId, env), inArray(groups.source, PROMOTED_GROUP_SOURCES)));
  const documentResources = new Set(document.resources.map((r) => rkey(r.feature, r.name)));
  const resourceGoes = (r: { feature: Feature; name: string }) => !documentResources.has(rkey(r.feature, r.name)) && listedRemoval("resource", resourceLabel(r));
  const groupsGoing = new Set(existing.filter((g) => g.source === "manual" && !documentGroups.has(lower(g.name)) && listedRemoval("group", g.name)).map((g) => lower(g.name)));
  for (const g of currentGrants) {
    // A removed resource's or group's grants go with it (one audit row there, as the plan lists it).
    const goesWith = (g.resource && resourceGoes({ feature: g.feature, name: g.resource })) || groupsGoing.has(lower(g.group));
    if (!wantedGrants.has(grantKey(g)) && !goesWith && listedRemoval("grant", grantLabel(g))) await removeGrant(ctx, g.id);
  }
  // Then what the document no longer has: resources (with their grants) and console-made groups.
  for (const r of existingResources) if (resourceGoes(r)) await deleteResource(ctx, r.id);
  for (const g of existing) if (groupsGoing.has(lower(g.name)) && g.source === "manual") await deleteGroup(ctx, g.id);
}

/** The console's "Promote FROM → TO" page: FROM's configuration and the plan of applying it to TO. */
export async function planBetween(ctx: DomainContext, from: string, to: string): Promise<Plan> {
  if (from === to) throw new ValidationError("Promote from another environment.", { from: ["Choose an environment other than the one you promote into."] });
  return planPromotion(ctx, to, await exportEnvironmentConfig(ctx, from));
}

const promoteInput = z.object({
  from: z.string().min(1, "Choose the environment to promote from."),
  to: z.string().min(1),
  planHash: z.string({ error: "Review the plan first." }).regex(/^[0-9a-f]{64}$/, "Review the plan first."),
});

/** The console's apply: FROM's configuration as it is now, applied to TO only if the plan is still the one shown. */
export async function promoteBetween(ctx: DomainContext, input: unknown): Promise<Plan> {
  const { from, to, planHash } = parseInput(promoteInput, input);
  if (from === to) throw new ValidationError("Promote from another environment.", { from: ["Choose an environment other than the one you promote into."] });
  return applyPromotion(ctx, to, { document: await exportEnvironmentConfig(ctx, from), planHash });
}
