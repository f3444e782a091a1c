import "server-only";
import { asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { CONSOLE_PASSWORD_SIGN_IN, CONSOLE_ROLE_LABELS, CONSOLE_SSO_ROLES, type ConsoleSsoRole } from "@/db/enums";
import { consoleSso, consoleSsoMappings, environments, identityProviders } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { endConsoleSessionsBy, lockMembers } from "@/lib/console-members";
import { requireEnvironments } from "@/lib/environments";
import { ConflictError, ValidationError } from "@/lib/errors";
import { hasSecondFactor, memberOwner } from "@/lib/second-factor";
import { authorizeOwner } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// Console SSO: members sign in to the console through one of the connected IdPs (the same SAML
// checks as end users: lib/sso/flow.ts), with their role and scope taken from the IdP groups
// mapped here. No mapping, no access. Owners are never granted by an IdP: they are invited, and keep
// a password with a second factor as the break-glass way in. The one writer of `console_sso` and
// `console_sso_mappings`; only owners change them (audited, and a sensitive action: step-up).

export type ConsoleSsoMapping = { idpValue: string; role: ConsoleSsoRole; environmentIds: string[] };
export type ConsoleSsoSettings = {
  enabled: boolean;
  identityProvider: { id: string; name: string; entityId: string | null } | null;
  passwordSignIn: (typeof CONSOLE_PASSWORD_SIGN_IN)[number];
  mappings: ConsoleSsoMapping[];
};

const mappingSchema = z.object({
  idpValue: z.string({ error: "Enter the IdP's group value." }).trim().min(1, "Enter the IdP's group value.").max(500),
  role: z.enum(CONSOLE_SSO_ROLES, { error: `Choose a role an IdP group may grant: ${CONSOLE_SSO_ROLES.join(", ")} (owners are invited, never granted by an IdP).` }),
  environmentIds: z.array(uuidSchema, { error: "A list of environment ids." }).max(100).default([]),
});

export const consoleSsoInput = z.object({
  enabled: z.boolean({ error: "Say whether console SSO is on." }),
  identityProviderId: uuidSchema.nullable().optional(),
  passwordSignIn: z.enum(CONSOLE_PASSWORD_SIGN_IN, { error: "Choose who keeps password sign-in: everyone or owners." }).default("everyone"),
  mappings: z.array(mappingSchema, { error: "A list of mappings." }).max(200, "At most 200 mappings.").default([]),
});

/** The console's SSO settings with its IdP and mappings (environment ids that no longer exist are left out). */
export async function consoleSsoSettings(executor: Executor = getDb()): Promise<ConsoleSsoSettings> {
  const [[row], mappings, envs] = await Promise.all([
    executor
      .select({ enabled: consoleSso.enabled, passwordSignIn: consoleSso.passwordSignIn, idpId: identityProviders.id, idpName: identityProviders.name, entityId: identityProviders.entityId })
      .from(consoleSso)
      .leftJoin(identityProviders, eq(identityProviders.id, consoleSso.identityProviderId))
      .limit(1),
    executor.select().from(consoleSsoMappings).orderBy(asc(consoleSsoMappings.idpValue)),
    executor.select({ id: environments.id }).from(environments),
  ]);
  const live = new Set(envs.map((e) => e.id));
  return {
    enabled: (row?.enabled ?? false) && !!row?.idpId,
    identityProvider: row?.idpId ? { id: row.idpId, name: row.idpName!, entityId: row.entityId } : null,
    passwordSignIn: row?.passwordSignIn ?? "everyone",
    mappings: mappings.map((m) => ({ idpValue: m.idpValue, role: m.role, environmentIds: m.environmentIds.filter((id) => live.has(id)) })),
  };
}

export type ConsoleAccess = { role: ConsoleSsoRole; environmentIds: string[]; matched: string[] };
const RANK: Record<ConsoleSsoRole, number> = { admin: 3, environment_admin: 2, reviewer: 1 };

/**
 * The console role an assertion's groups grant: the strongest mapped role (admin over environment
 * admin over reviewer); an environment admin gets the environments of every matching mapping.
 * Null when no group is mapped (no mapping, no access) or an environment-admin mapping is left
 * with no environment.
 */
export function consoleAccessFor(mappings: readonly ConsoleSsoMapping[], groups: readonly string[]): ConsoleAccess | null {
  const asserted = new Set(groups);
  const matching = mappings.filter((m) => asserted.has(m.idpValue) && (m.role !== "environment_admin" || m.environmentIds.length > 0));
  if (!matching.length) return null;
  const role = matching.reduce<ConsoleSsoRole>((best, m) => (RANK[m.role] > RANK[best] ? m.role : best), "reviewer");
  const environmentIds = role === "environment_admin" ? [...new Set(matching.filter((m) => m.role === role).flatMap((m) => m.environmentIds))].sort() : [];
  return { role, environmentIds, matched: matching.map((m) => m.idpValue) };
}

/** Owners turn console SSO on or off, choose its IdP, who keeps a password, and the group mappings (all at once; audited). */
export async function updateConsoleSso(ctx: DomainContext, input: unknown): Promise<ConsoleSsoSettings> {
  const data = parseInput(consoleSsoInput, input);
  const actor = ctx.actor;
  authorizeOwner(actor, "can change how members sign in to the console");
  const seen = new Set<string>();
  data.mappings.forEach((m, i) => {
    if (seen.has(m.idpValue)) throw ValidationError.field(`mappings.${i}.idpValue`, `“${m.idpValue}” is mapped twice; map each IdP group once.`);
    seen.add(m.idpValue);
    if (m.role === "environment_admin" && m.environmentIds.length === 0) {
      throw ValidationError.field(`mappings.${i}.environmentIds`, "An environment admin needs at least one environment.");
    }
    if (m.role !== "environment_admin" && m.environmentIds.length > 0) {
      throw ValidationError.field(`mappings.${i}.environmentIds`, `${CONSOLE_ROLE_LABELS[m.role]}s are not limited to environments; only an environment admin is.`);
    }
  });
  if (data.enabled && !data.identityProviderId) throw ValidationError.field("identityProviderId", "Choose the identity provider members sign in with.");
  if (data.passwordSignIn === "owners" && !data.enabled) throw ValidationError.field("passwordSignIn", "Keep password sign-in for everyone while console SSO is off.");
  return inTransaction(async (tx) => {
    // In turn with member changes and SSO sign-ins (which take the same lock).
    await lockMembers(tx);
    const before = await consoleSsoSettings(tx);
    if (data.identityProviderId) {
      const [idp] = await tx
        .select({ id: identityProviders.id, protocol: identityProviders.protocol, entityId: identityProviders.entityId, approved: sql<boolean>`exists (select 1 from jsonb_array_elements(${identityProviders.certificates}) c where c->>'status' = 'approved')` })
        .from(identityProviders)
        .where(eq(identityProviders.id, data.identityProviderId));
      if (!idp) throw ValidationError.field("identityProviderId", "This identity provider does not exist.");
      // An OpenID Connect IdP's ID tokens are verified against its published keys (lib/sso/oidc.ts).
      if (data.enabled && idp.protocol === "saml" && (!idp.entityId || !idp.approved)) {
        throw ValidationError.field("identityProviderId", "This identity provider has no entity ID or no approved signing certificate yet; nothing it signs could be verified.");
      }
    }
    await requireEnvironments(tx, [...new Set(data.mappings.flatMap((m) => m.environmentIds))], "mappings");
    if (data.passwordSignIn === "owners" && actor.type === "console_member" && !(await hasSecondFactor(memberOwner(actor.id!), tx))) {
      throw new ConflictError("Add a second factor to your own account first: with SSO for members, owners sign in with a password and a second factor.");
    }
    const values = { enabled: data.enabled, identityProviderId: data.identityProviderId ?? null, passwordSignIn: data.passwordSignIn };
    await tx
      .insert(consoleSso)
      .values({ id: true, ...values })
      .onConflictDoUpdate({ target: consoleSso.id, set: { ...values, updatedAt: sql`now()` } });
    const kept = data.mappings.map((m) => m.idpValue);
    if (kept.length) await tx.delete(consoleSsoMappings).where(sql`${consoleSsoMappings.idpValue} <> all(${sql.param(kept)}::text[])`);
    else await tx.delete(consoleSsoMappings);
    if (data.mappings.length) {
      await tx
        .insert(consoleSsoMappings)
        .values(data.mappings.map((m) => ({ idpValue: m.idpValue, role: m.role, environmentIds: [...new Set(m.environmentIds)] })))
        .onConflictDoUpdate({ target: consoleSsoMappings.idpValue, set: { role: sql`excluded.role`, environmentIds: sql`excluded.environment_ids` } });
    }
    const after = await consoleSsoSettings(tx);
    // Sessions the new settings would not open end now, not at their 12 hours: members' password
    // sessions once the password is kept for owners, SSO sessions once SSO is off or its IdP changes.
    // A mapping removed, or changed in role or environments, may lower what an SSO session was given:
    // those sessions end too (the next sign-in gets the role the groups map to now).
    const mappingKey = (m: ConsoleSsoMapping) => `${m.role}:${[...m.environmentIds].sort().join(",")}`;
    const now = new Map(after.mappings.map((m) => [m.idpValue, mappingKey(m)]));
    const mappingsNarrowed = before.mappings.some((m) => now.get(m.idpValue) !== mappingKey(m));
    const sessionsEnded =
      (after.passwordSignIn === "owners" && (before.passwordSignIn !== "owners" || !before.enabled) ? await endConsoleSessionsBy(tx, { method: "password", exceptOwners: true }) : 0) +
      (before.enabled && (!after.enabled || before.identityProvider?.id !== after.identityProvider?.id || mappingsNarrowed) ? await endConsoleSessionsBy(tx, { method: "sso" }) : 0);
    const envKeys = new Map((await tx.select({ id: environments.id, key: environments.key }).from(environments)).map((e) => [e.id, e.key]));
    const describe = (s: ConsoleSsoSettings) => ({
      enabled: s.enabled,
      identityProvider: s.identityProvider?.name ?? null,
      passwordSignIn: s.passwordSignIn,
      mappings: s.mappings.map((m) => `${m.idpValue} → ${m.role}${m.environmentIds.length ? ` (${m.environmentIds.map((id) => envKeys.get(id) ?? id).join(", ")})` : ""}`),
    });
    await recordAudit(tx, ctx, { action: "console.sso.update", targetType: "console", targetId: null, targetLabel: "Console SSO", before: describe(before), after: { ...describe(after), sessionsEnded } });
    return after;
  });
}
