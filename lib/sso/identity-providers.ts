import "server-only";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { IDP_PRESETS } from "@/db/enums";
import { ATTRIBUTE_PRESETS } from "./presets";
import { environmentAuth, groupMappings, groups, identityProviders, type IdentityProvider, type IdpCertificate } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";
import { spEndpoints } from "./endpoints";
import { JACKSON_PRODUCT, jackson } from "./jackson";
import { certificateWarning, fetchMetadata, parseIdpMetadata, type ParsedIdpMetadata } from "./metadata";

const attributeName = z.string().trim().min(1, "Enter an attribute name.").max(300);

export const createIdpInput = z
  .object({
    name: z.string().trim().min(1, "Enter a name.").max(100),
    preset: z.enum(IDP_PRESETS).default("generic"),
    metadataUrl: z.string().trim().max(2000).optional().transform((v) => v || undefined),
    metadataXml: z.string().max(1024 * 1024, "The metadata is larger than 1 MB.").optional().transform((v) => (v?.trim() ? v : undefined)),
  })
  .refine((v) => v.metadataUrl || v.metadataXml, { message: "Enter a metadata URL or paste the metadata XML.", path: ["metadataUrl"] })
  .refine((v) => !(v.metadataUrl && v.metadataXml), { message: "Give a metadata URL or XML, not both.", path: ["metadataXml"] });

export const updateIdpInput = z.object({
  name: z.string().trim().min(1, "Enter a name.").max(100).optional(),
  preset: z.enum(IDP_PRESETS).optional(),
  attributeMapping: z.object({ email: attributeName, name: attributeName, groups: attributeName }).optional(),
  allowIdpInitiated: z.boolean().optional(),
  allowSha1: z.boolean().optional(),
  createGroupsFromAssertion: z.boolean().optional(),
  expectedVersion: z.number().int().positive().optional(),
});

export const groupMappingsInput = z.object({
  environmentId: uuidSchema,
  mappings: z
    .array(z.object({ idpValue: z.string().trim().min(1, "Enter the IdP's group value.").max(500), groupId: uuidSchema }))
    .max(1000),
});

type IdpSnapshot = Pick<IdentityProvider, "name" | "preset" | "entityId" | "ssoUrl" | "metadataUrl" | "attributeMapping" | "allowIdpInitiated" | "allowSha1" | "createGroupsFromAssertion"> & {
  certificates: string[];
};

const snapshot = (idp: IdentityProvider): IdpSnapshot => ({
  name: idp.name,
  preset: idp.preset,
  entityId: idp.entityId,
  ssoUrl: idp.ssoUrl,
  metadataUrl: idp.metadataUrl,
  attributeMapping: idp.attributeMapping,
  allowIdpInitiated: idp.allowIdpInitiated,
  allowSha1: idp.allowSha1,
  createGroupsFromAssertion: idp.createGroupsFromAssertion,
  certificates: idp.certificates.map((c) => `${c.fingerprint} (until ${c.notAfter.slice(0, 10)})`),
});

async function loadMetadata(input: { metadataUrl?: string; metadataXml?: string }): Promise<{ xml: string; parsed: ParsedIdpMetadata }> {
  const xml = input.metadataXml ?? (await fetchMetadata(input.metadataUrl!));
  return { xml, parsed: parseIdpMetadata(xml, input.metadataXml ? "metadataXml" : "metadataUrl") };
}

async function jacksonConnection(idp: Pick<IdentityProvider, "id" | "name">, rawMetadata: string) {
  const { connections } = await jackson();
  const { callbackUrl } = spEndpoints();
  try {
    return await connections.createSAMLConnection({
      rawMetadata,
      tenant: idp.id,
      product: JACKSON_PRODUCT,
      name: idp.name,
      defaultRedirectUrl: callbackUrl,
      redirectUrl: [callbackUrl],
    });
  } catch (e) {
    const message = `The SAML library refused this metadata: ${(e as Error).message}`;
    throw ValidationError.field("metadataXml", message);
  }
}

/** Connects an IdP from its metadata (URL or XML) and creates its Jackson connection. */
export async function createIdentityProvider(ctx: DomainContext, input: unknown): Promise<IdentityProvider> {
  const data = parseInput(createIdpInput, input);
  authorize(ctx.actor, "identity_providers", "write");
  const { xml, parsed } = await loadMetadata(data);
  const preset = ATTRIBUTE_PRESETS[data.preset];
  const existing = await getDb().select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.entityId, parsed.entityId));
  if (existing.length) {
    const message = `An identity provider with entity ID ${parsed.entityId} is already connected.`;
    throw new ValidationError(message, { [data.metadataXml ? "metadataXml" : "metadataUrl"]: [message] });
  }
  const now = new Date().toISOString();
  return inTransaction(async (tx) => {
    const [idp] = await tx
      .insert(identityProviders)
      .values({
        name: data.name,
        preset: data.preset,
        entityId: parsed.entityId,
        ssoUrl: parsed.ssoUrl,
        metadataUrl: data.metadataUrl ?? null,
        metadataXml: xml,
        certificates: parsed.certificates.map((c) => ({ ...c, addedAt: now })),
        attributeMapping: { email: preset.email, name: preset.name, groups: preset.groups },
        metadataRefreshedAt: sql`now()`,
      })
      .returning();
    const connection = await jacksonConnection(idp!, xml);
    const [withJackson] = await tx
      .update(identityProviders)
      .set({ jacksonClientId: connection.clientID })
      .where(eq(identityProviders.id, idp!.id))
      .returning();
    await recordAudit(tx, ctx, {
      action: "identity_provider.create",
      targetType: "identity_provider",
      targetId: idp!.id,
      targetLabel: idp!.name,
      after: snapshot(withJackson!),
    });
    return withJackson!;
  });
}

export async function updateIdentityProvider(ctx: DomainContext, id: string, input: unknown): Promise<IdentityProvider> {
  const data = parseInput(updateIdpInput, input);
  authorize(ctx.actor, "identity_providers", "write");
  return inTransaction(async (tx) => {
    const before = await lockIdp(tx, id);
    if (data.expectedVersion && data.expectedVersion !== before.version) {
      throw new VersionConflictError("Someone else changed this identity provider; reload and try again.");
    }
    const { expectedVersion: _, ...changes } = data;
    const [after] = await tx
      .update(identityProviders)
      .set({ ...changes, version: sql`${identityProviders.version} + 1`, updatedAt: sql`now()` })
      .where(eq(identityProviders.id, id))
      .returning();
    await recordAudit(tx, ctx, {
      action: "identity_provider.update",
      targetType: "identity_provider",
      targetId: id,
      targetLabel: after!.name,
      before: snapshot(before),
      after: snapshot(after!),
    });
    return after!;
  });
}

async function lockIdp(tx: Executor, id: string): Promise<IdentityProvider> {
  const parsedId = parseInput(uuidSchema, id);
  const [idp] = await tx.select().from(identityProviders).where(eq(identityProviders.id, parsedId)).for("update");
  if (!idp) throw new NotFoundError("Identity provider not found.");
  return idp;
}

export type RefreshResult = { idp: IdentityProvider; added: string[]; changed: boolean };

/**
 * Re-reads the metadata (from its URL, or XML pasted now). New signing certificates are added
 * beside the old ones, so a rollover at the IdP does not break sign-in; the change is audited.
 */
export async function refreshMetadata(ctx: DomainContext, id: string, input: unknown = {}): Promise<RefreshResult> {
  const data = parseInput(z.object({ metadataXml: z.string().max(1024 * 1024).optional() }), input);
  authorize(ctx.actor, "identity_providers", "write");
  const current = await getIdentityProvider(id);
  if (!data.metadataXml && !current.metadataUrl) {
    throw new ValidationError("This IdP was added from XML; paste the new metadata XML.", { metadataXml: ["Paste the new metadata XML."] });
  }
  let loaded: Awaited<ReturnType<typeof loadMetadata>>;
  try {
    loaded = await loadMetadata(data.metadataXml ? { metadataXml: data.metadataXml } : { metadataUrl: current.metadataUrl! });
  } catch (e) {
    if (e instanceof ValidationError && !data.metadataXml) {
      await getDb().update(identityProviders).set({ metadataError: e.message }).where(eq(identityProviders.id, current.id));
    }
    throw e;
  }
  const { xml, parsed } = loaded;
  if (parsed.entityId !== current.entityId) {
    const message = `This metadata is for ${parsed.entityId}, not ${current.entityId}; add it as a new identity provider.`;
    throw ValidationError.field("metadataXml", message);
  }
  return inTransaction(async (tx) => {
    const before = await lockIdp(tx, id);
    const now = new Date().toISOString();
    const known = new Set(before.certificates.map((c) => c.fingerprint));
    const added: IdpCertificate[] = parsed.certificates.filter((c) => !known.has(c.fingerprint)).map((c) => ({ ...c, addedAt: now }));
    const changed = added.length > 0 || parsed.ssoUrl !== before.ssoUrl;
    const [after] = await tx
      .update(identityProviders)
      .set({
        certificates: [...before.certificates, ...added],
        ssoUrl: parsed.ssoUrl,
        metadataXml: xml,
        metadataRefreshedAt: sql`now()`,
        metadataError: null,
        ...(changed ? { version: sql`${identityProviders.version} + 1`, updatedAt: sql`now()` } : {}),
      })
      .where(eq(identityProviders.id, id))
      .returning();
    if (changed) {
      const { connections } = await jackson();
      const [connection] = await connections.getConnections({ tenant: id, product: JACKSON_PRODUCT });
      if (connection) {
        await connections.updateSAMLConnection({
          clientID: connection.clientID,
          clientSecret: connection.clientSecret,
          tenant: id,
          product: JACKSON_PRODUCT,
          rawMetadata: xml,
        } as Parameters<typeof connections.updateSAMLConnection>[0]);
      } else {
        await jacksonConnection(after!, xml);
      }
      await recordAudit(tx, ctx, {
        action: "identity_provider.metadata_refresh",
        targetType: "identity_provider",
        targetId: id,
        targetLabel: after!.name,
        before: snapshot(before),
        after: { ...snapshot(after!), addedCertificates: added.map((c) => c.fingerprint) },
      });
    }
    return { idp: after!, added: added.map((c) => c.fingerprint), changed };
  });
}

export async function deleteIdentityProvider(ctx: DomainContext, id: string): Promise<void> {
  authorize(ctx.actor, "identity_providers", "write");
  await inTransaction(async (tx) => {
    const idp = await lockIdp(tx, id);
    const inUse = await tx.select({ environmentId: environmentAuth.environmentId }).from(environmentAuth).where(and(eq(environmentAuth.identityProviderId, id), eq(environmentAuth.ssoEnabled, true)));
    if (inUse.length) {
      throw new ValidationError("Environments still sign in with this identity provider; turn SSO off there first.");
    }
    await tx.delete(identityProviders).where(eq(identityProviders.id, id));
    const { connections } = await jackson();
    await connections.deleteConnections({ tenant: id, product: JACKSON_PRODUCT });
    await recordAudit(tx, ctx, { action: "identity_provider.delete", targetType: "identity_provider", targetId: id, targetLabel: idp.name, before: snapshot(idp) });
  });
}

export type IdentityProviderSummary = Pick<IdentityProvider, "id" | "name" | "entityId" | "preset" | "allowIdpInitiated"> & {
  /** When the newest signing certificate expires, and the 90/30/7-day warning it is under. */
  certificateExpiresAt: string | null;
  certificateWarning: ReturnType<typeof certificateWarning>;
};

/** Every IdP in a few columns (no metadata, no certificates): the console lists it on every page. */
export async function listIdentityProviders(executor: Executor = getDb()): Promise<IdentityProviderSummary[]> {
  const rows = await executor
    .select({
      id: identityProviders.id,
      name: identityProviders.name,
      entityId: identityProviders.entityId,
      preset: identityProviders.preset,
      allowIdpInitiated: identityProviders.allowIdpInitiated,
      certificateExpiresAt: sql<string | null>`(select max(c ->> 'notAfter') from jsonb_array_elements(${identityProviders.certificates}) c)`,
    })
    .from(identityProviders)
    .orderBy(asc(sql`lower(${identityProviders.name})`));
  return rows.map((r) => ({ ...r, certificateWarning: r.certificateExpiresAt ? certificateWarning(r.certificateExpiresAt) : null }));
}

export async function getIdentityProvider(id: string, executor: Executor = getDb()): Promise<IdentityProvider> {
  const parsed = uuidSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError("Identity provider not found.");
  const [idp] = await executor.select().from(identityProviders).where(eq(identityProviders.id, parsed.data));
  if (!idp) throw new NotFoundError("Identity provider not found.");
  return idp;
}

export async function findIdentityProviderByEntityId(entityId: string, executor: Executor = getDb()) {
  const [idp] = await executor.select().from(identityProviders).where(eq(identityProviders.entityId, entityId));
  return idp;
}

export type GroupMappingRow = { idpValue: string; groupId: string; groupName: string };

export async function listGroupMappings(identityProviderId: string, environmentId: string, executor: Executor = getDb()): Promise<GroupMappingRow[]> {
  return executor
    .select({ idpValue: groupMappings.idpValue, groupId: groupMappings.groupId, groupName: groups.name })
    .from(groupMappings)
    .innerJoin(groups, eq(groups.id, groupMappings.groupId))
    .where(and(eq(groupMappings.identityProviderId, identityProviderId), eq(groupMappings.environmentId, environmentId)))
    .orderBy(asc(groupMappings.idpValue), asc(groups.name));
}

/** Replaces the IdP's group-value → group table for one environment. */
export async function setGroupMappings(ctx: DomainContext, identityProviderId: string, input: unknown): Promise<GroupMappingRow[]> {
  const data = parseInput(groupMappingsInput, input);
  authorize(ctx.actor, "environment_auth", "write", [data.environmentId]);
  return inTransaction(async (tx) => {
    const idp = await lockIdp(tx, identityProviderId);
    const env = await requireEnvironment(tx, data.environmentId);
    const groupIds = [...new Set(data.mappings.map((m) => m.groupId))];
    if (groupIds.length) {
      const found = await tx.select({ id: groups.id, source: groups.source }).from(groups).where(and(inArray(groups.id, groupIds), eq(groups.environmentId, env.id)));
      if (found.length !== groupIds.length) throw ValidationError.field("mappings", "A mapped group is not in this environment.");
      if (found.some((g) => g.source === "system")) throw new ValidationError("Everyone cannot be mapped: everyone with access is in it.", { mappings: ["Everyone cannot be mapped."] });
    }
    const before = await listGroupMappings(idp.id, env.id, tx);
    await tx.delete(groupMappings).where(and(eq(groupMappings.identityProviderId, idp.id), eq(groupMappings.environmentId, env.id)));
    const unique = [...new Map(data.mappings.map((m) => [`${m.idpValue}\u0000${m.groupId}`, m])).values()];
    if (unique.length) {
      await tx.insert(groupMappings).values(unique.map((m) => ({ identityProviderId: idp.id, environmentId: env.id, idpValue: m.idpValue, groupId: m.groupId })));
    }
    const after = await listGroupMappings(idp.id, env.id, tx);
    await recordAudit(tx, ctx, {
      action: "identity_provider.group_mappings",
      targetType: "identity_provider",
      targetId: idp.id,
      targetLabel: idp.name,
      environment: env,
      before: before.map((m) => `${m.idpValue} → ${m.groupName}`),
      after: after.map((m) => `${m.idpValue} → ${m.groupName}`),
    });
    return after;
  });
}

/** IdPs whose metadata URL was last read more than a day ago (the daily refresh). */
export async function identityProvidersDueForRefresh(executor: Executor = getDb()) {
  return executor
    .select({ id: identityProviders.id })
    .from(identityProviders)
    .where(sql`${identityProviders.metadataUrl} is not null and (${identityProviders.metadataRefreshedAt} is null or ${identityProviders.metadataRefreshedAt} < now() - interval '1 day')`)
    .orderBy(desc(identityProviders.metadataRefreshedAt));
}
