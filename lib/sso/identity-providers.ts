import "server-only";
import { and, asc, desc, eq, inArray, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor } from "@/db/client";
import { IDP_PRESETS, OIDC_TOKEN_AUTH_METHODS } from "@/db/enums";
import { ATTRIBUTE_PRESETS } from "./presets";
import { consoleSso, environmentAuth, environmentIdentityProviders, groupMappings, groups, identityProviders, type IdentityProvider, type IdpCertificate } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { NotFoundError, ValidationError, VersionConflictError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";
import { spEndpoints } from "./endpoints";
import { JACKSON_PRODUCT, jackson } from "./jackson";
import { checkDiscovery, issuerProblem, normalizeIssuer, openClientSecret, sealClientSecret } from "./oidc";
import { certificateSubject, certificateWarning, fetchMetadata, metadataUrlProblem, metadataWithCertificates, parseIdpMetadata, type ParsedIdpMetadata } from "./metadata";

const attributeName = z.string().trim().min(1, "Enter an attribute name.").max(300);

export const createIdpInput = z
  .object({
    name: z.string().trim().min(1, "Enter a name.").max(100),
    preset: z.enum(IDP_PRESETS).default("generic"),
    metadataUrl: z
      .string()
      .trim()
      .max(2000)
      .optional()
      .transform((v) => v || undefined)
      .superRefine((v, issue) => {
        const problem = v ? metadataUrlProblem(v) : null;
        if (problem) issue.addIssue({ code: "custom", message: problem });
      }),
    metadataXml: z.string().max(1024 * 1024, "The metadata is larger than 1 MB.").optional().transform((v) => (v?.trim() ? v : undefined)),
  })
  .refine((v) => v.metadataUrl || v.metadataXml, { message: "Enter a metadata URL or paste the metadata XML.", path: ["metadataUrl"] })
  .refine((v) => !(v.metadataUrl && v.metadataXml), { message: "Give a metadata URL or XML, not both.", path: ["metadataXml"] });

const scopesSchema = z
  .string()
  .trim()
  .max(500)
  .transform((v) => [...new Set(v.split(/\s+/).filter(Boolean))].join(" "))
  .refine((v) => v.split(" ").includes("openid"), "The scopes must include openid.")
  .refine((v) => /^[\x21\x23-\x5B\x5D-\x7E ]*$/.test(v), "Scopes are words without quotes or backslashes.");

/** An OpenID Connect IdP: its issuer (or discovery URL), our client there and the scopes asked for. */
export const createOidcIdpInput = z.object({
  protocol: z.literal("oidc"),
  name: z.string().trim().min(1, "Enter a name.").max(100),
  preset: z.enum(IDP_PRESETS).default("generic"),
  oidcIssuer: z
    .string()
    .trim()
    .min(1, "Enter the issuer or its discovery URL.")
    .max(2000)
    .transform(normalizeIssuer)
    .superRefine((v, issue) => {
      const problem = issuerProblem(v);
      if (problem) issue.addIssue({ code: "custom", message: problem });
    }),
  oidcClientId: z.string().trim().min(1, "Enter the client ID the IdP gave you.").max(500),
  oidcClientSecret: z.string().max(2000).optional().transform((v) => v?.trim() || undefined),
  oidcScopes: scopesSchema.default("openid email profile"),
  oidcTokenAuthMethod: z.enum(OIDC_TOKEN_AUTH_METHODS, { error: "Choose client_secret_basic or client_secret_post." }).default("client_secret_basic"),
});

export const updateIdpInput = z.object({
  name: z.string().trim().min(1, "Enter a name.").max(100).optional(),
  preset: z.enum(IDP_PRESETS).optional(),
  attributeMapping: z.object({ email: attributeName, name: attributeName, groups: attributeName }).optional(),
  allowIdpInitiated: z.boolean().optional(),
  allowSha1: z.boolean().optional(),
  createGroupsFromAssertion: z.boolean().optional(),
  autoTrustRollover: z.boolean().optional(),
  // OpenID Connect IdPs only: a new client ID or secret (rotated at the IdP), the scopes.
  oidcClientId: z.string().trim().min(1, "Enter the client ID the IdP gave you.").max(500).optional(),
  oidcClientSecret: z.string().trim().min(1, "Enter the new client secret.").max(2000).optional(),
  oidcScopes: scopesSchema.optional(),
  oidcTokenAuthMethod: z.enum(OIDC_TOKEN_AUTH_METHODS, { error: "Choose client_secret_basic or client_secret_post." }).optional(),
  expectedVersion: z.number().int().positive().optional(),
}).refine((v) => Object.entries(v).some(([k, value]) => k !== "expectedVersion" && value !== undefined), { message: "Nothing to change.", path: ["_form"] });

/** An IdP's group value of a mapping, as stored (trimmed): the console's and a promoted document's one rule. */
export const groupMappingValue = z.string({ error: "Enter the IdP's group value." }).trim().min(1, "Enter the IdP's group value.").max(500, "A group value has at most 500 characters.");

export const groupMappingsInput = z.object({
  environmentId: uuidSchema,
  mappings: z
    .array(
      z.object({
        idpValue: groupMappingValue,
        groupId: z.string({ error: "Choose the group this value maps to." }).min(1, "Choose the group this value maps to.").pipe(uuidSchema),
      }),
    )
    .max(1000),
});

type IdpSnapshot = Pick<IdentityProvider, "name" | "preset" | "protocol" | "oidcIssuer" | "oidcClientId" | "oidcScopes" | "oidcTokenAuthMethod" | "entityId" | "ssoUrl" | "metadataUrl" | "attributeMapping" | "allowIdpInitiated" | "allowSha1" | "createGroupsFromAssertion" | "autoTrustRollover"> & {
  certificates: string[];
  /** Whether a client secret is kept (never the secret). */
  oidcClientSecret?: "set" | null;
};

const snapshot = (idp: IdentityProvider): IdpSnapshot => ({
  name: idp.name,
  preset: idp.preset,
  protocol: idp.protocol,
  ...(idp.protocol === "oidc" ? { oidcIssuer: idp.oidcIssuer, oidcClientId: idp.oidcClientId, oidcScopes: idp.oidcScopes, oidcTokenAuthMethod: idp.oidcTokenAuthMethod, oidcClientSecret: idp.oidcClientSecret ? ("set" as const) : null } : { oidcIssuer: null, oidcClientId: null, oidcScopes: idp.oidcScopes, oidcTokenAuthMethod: idp.oidcTokenAuthMethod }),
  entityId: idp.entityId,
  ssoUrl: idp.ssoUrl,
  metadataUrl: idp.metadataUrl,
  attributeMapping: idp.attributeMapping,
  allowIdpInitiated: idp.allowIdpInitiated,
  allowSha1: idp.allowSha1,
  createGroupsFromAssertion: idp.createGroupsFromAssertion,
  autoTrustRollover: idp.autoTrustRollover,
  certificates: idp.certificates.map((c) => `${c.fingerprint} (${c.status}, until ${c.notAfter.slice(0, 10)})`),
});

/** The PEMs assertions of this IdP are verified with: its approved certificates, never pending ones. */
export function trustedCertificates(idp: Pick<IdentityProvider, "certificates">): string[] {
  return idp.certificates.filter((c) => c.status === "approved").map((c) => c.pem);
}

/** Certificates read from the metadata that await an administrator's approval. */
export function pendingCertificates(idp: Pick<IdentityProvider, "certificates">): string[] {
  return idp.certificates.filter((c) => c.status === "pending").map((c) => c.pem);
}

export type CertificateView = Omit<IdpCertificate, "pem"> & {
  subject: string;
  /** Whether the metadata last read still lists it (a removed one that is listed comes back). */
  inMetadata: boolean;
  warning: ReturnType<typeof certificateWarning>;
};

/** The IdP's certificates as the console shows them: subject, validity, status, where and when read. */
export function certificateViews(idp: Pick<IdentityProvider, "certificates" | "metadataXml">): CertificateView[] {
  let listed = new Set<string>();
  try {
    listed = new Set(idp.metadataXml ? parseIdpMetadata(idp.metadataXml).certificates.map((c) => c.fingerprint) : []);
  } catch {
    // Stored metadata that no longer parses lists nothing.
  }
  return idp.certificates.map(({ pem, ...c }) => ({ ...c, subject: certificateSubject(pem), inMetadata: listed.has(c.fingerprint), warning: certificateWarning(c.notAfter) }));
}

/** A certificate as the audit trail records it. */
const describeCertificate = (c: IdpCertificate) => ({
  fingerprint: c.fingerprint,
  status: c.status,
  notBefore: c.notBefore,
  notAfter: c.notAfter,
  source: c.source,
  addedAt: c.addedAt,
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
  if (input && typeof input === "object" && (input as { protocol?: unknown }).protocol === "oidc") return createOidcIdentityProvider(ctx, input);
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
        // Imported with the IdP: trusted by the administrator's act of connecting it.
        certificates: parsed.certificates.map((c) => ({ ...c, addedAt: now, lastSeenAt: now, status: "approved" as const, source: data.metadataUrl ?? null, approvedAt: now, approvedBy: ctx.actor.label })),
        attributeMapping: { email: preset.email, name: preset.name, groups: preset.groups },
        metadataRefreshedAt: sql`now()`,
      })
      .returning();
    const connection = await jacksonConnection(idp!, metadataWithCertificates(xml, trustedCertificates(idp!)));
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

/**
 * Connects an OpenID Connect IdP: discovery must answer for the issuer first (openid-client checks
 * the document names that issuer), so a typo is a field error, not a failed sign-in later. The
 * client secret is stored sealed; the default mapping reads the standard claims.
 */
async function createOidcIdentityProvider(ctx: DomainContext, input: unknown): Promise<IdentityProvider> {
  const data = parseInput(createOidcIdpInput, input);
  authorize(ctx.actor, "identity_providers", "write");
  const [existing] = await getDb()
    .select({ name: identityProviders.name })
    .from(identityProviders)
    .where(and(eq(identityProviders.oidcIssuer, data.oidcIssuer), eq(identityProviders.oidcClientId, data.oidcClientId)));
  if (existing) throw ValidationError.field("oidcClientId", `This client of ${data.oidcIssuer} is already connected as ${existing.name}.`);
  await checkDiscovery(data.oidcIssuer, data.oidcClientId, data.oidcClientSecret ?? null, data.oidcTokenAuthMethod);
  return inTransaction(async (tx) => {
    const [idp] = await tx
      .insert(identityProviders)
      .values({
        name: data.name,
        preset: data.preset,
        protocol: "oidc",
        oidcIssuer: data.oidcIssuer,
        oidcClientId: data.oidcClientId,
        oidcClientSecret: data.oidcClientSecret ? sealClientSecret(data.oidcClientSecret) : null,
        oidcScopes: data.oidcScopes,
        oidcTokenAuthMethod: data.oidcTokenAuthMethod,
        attributeMapping: { email: "email", name: "name", groups: "groups" },
      })
      .returning();
    await recordAudit(tx, ctx, { action: "identity_provider.create", targetType: "identity_provider", targetId: idp!.id, targetLabel: idp!.name, after: snapshot(idp!) });
    return idp!;
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
    if (data.autoTrustRollover && !before.metadataUrl) {
      throw ValidationError.field("autoTrustRollover", "This IdP was added from XML: there is no metadata URL to trust.");
    }
    const { expectedVersion: _, oidcClientSecret, ...changes } = data;
    const oidcOnly = (["oidcClientId", "oidcClientSecret", "oidcScopes", "oidcTokenAuthMethod"] as const).find((k) => data[k] !== undefined);
    if (oidcOnly && before.protocol !== "oidc") throw ValidationError.field(oidcOnly, "Only an OpenID Connect identity provider has this setting.");
    if (before.protocol === "oidc" && (data.allowIdpInitiated || data.allowSha1 || data.autoTrustRollover)) {
      throw new ValidationError("IdP-initiated sign-in, SHA-1 and metadata rollover are SAML settings; an OpenID Connect IdP has none of them.");
    }
    if (data.oidcClientId !== undefined || oidcClientSecret !== undefined) {
      const secret = oidcClientSecret ?? (before.oidcClientSecret ? openClientSecret(before.oidcClientSecret) : null);
      await checkDiscovery(before.oidcIssuer!, data.oidcClientId ?? before.oidcClientId!, secret);
    }
    const [after] = await tx
      .update(identityProviders)
      .set({ ...changes, ...(oidcClientSecret ? { oidcClientSecret: sealClientSecret(oidcClientSecret) } : {}), version: sql`${identityProviders.version} + 1`, updatedAt: sql`now()` })
      .where(eq(identityProviders.id, before.id))
      .returning();
    await recordAudit(tx, ctx, {
      action: "identity_provider.update",
      targetType: "identity_provider",
      targetId: before.id,
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

export type RefreshResult = { idp: IdentityProvider; added: string[]; pending: string[]; changed: boolean };

/** Hands Jackson the IdP's stored metadata with its approved certificates only (called last in a transaction holding the IdP's row). */
async function syncJackson(idp: IdentityProvider): Promise<void> {
  if (!idp.metadataXml) throw new Error(`Identity provider ${idp.id} has no stored metadata.`);
  const rawMetadata = metadataWithCertificates(idp.metadataXml, trustedCertificates(idp));
  const { connections } = await jackson();
  const [connection] = await connections.getConnections({ tenant: idp.id, product: JACKSON_PRODUCT });
  if (!connection) {
    await jacksonConnection(idp, rawMetadata);
    return;
  }
  await connections.updateSAMLConnection({
    clientID: connection.clientID,
    clientSecret: connection.clientSecret,
    tenant: idp.id,
    product: JACKSON_PRODUCT,
    rawMetadata,
  } as Parameters<typeof connections.updateSAMLConnection>[0]);
}

export const AUTO_TRUST_LABEL = "automatic trust of the metadata URL";

/**
 * Re-reads the metadata (from its URL, or XML pasted now). A signing certificate that appears is
 * added beside the old ones as pending: it verifies nothing until an administrator approves it
 * (approveCertificate), unless the IdP trusts its metadata URL's rollovers (autoTrustRollover, and
 * then only for what the URL serves). The change is audited.
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
    const source = data.metadataXml ? null : before.metadataUrl;
    const autoTrust = source !== null && before.autoTrustRollover;
    const listed = new Set(parsed.certificates.map((c) => c.fingerprint));
    const known = new Set(before.certificates.map((c) => c.fingerprint));
    const added: IdpCertificate[] = parsed.certificates
      .filter((c) => !known.has(c.fingerprint))
      .map((c) => ({ ...c, addedAt: now, lastSeenAt: now, source, ...(autoTrust ? { status: "approved" as const, approvedAt: now, approvedBy: AUTO_TRUST_LABEL } : { status: "pending" as const }) }));
    const pending = added.filter((c) => c.status === "pending").map((c) => c.fingerprint);
    const changed = added.length > 0 || parsed.ssoUrl !== before.ssoUrl;
    const [after] = await tx
      .update(identityProviders)
      .set({
        certificates: [...before.certificates.map((c) => (listed.has(c.fingerprint) ? { ...c, lastSeenAt: now } : c)), ...added],
        ssoUrl: parsed.ssoUrl,
        metadataXml: xml,
        metadataRefreshedAt: sql`now()`,
        metadataError: null,
        ...(changed ? { version: sql`${identityProviders.version} + 1`, updatedAt: sql`now()` } : {}),
      })
      .where(eq(identityProviders.id, before.id))
      .returning();
    if (changed) {
      await recordAudit(tx, ctx, {
        action: "identity_provider.metadata_refresh",
        targetType: "identity_provider",
        targetId: before.id,
        targetLabel: after!.name,
        before: snapshot(before),
        after: {
          ...snapshot(after!),
          addedCertificates: added.map((c) => c.fingerprint),
          pendingCertificates: pending,
          autoTrustedCertificates: added.filter((c) => c.status === "approved").map((c) => c.fingerprint),
        },
      });
      await syncJackson(after!);
    }
    return { idp: after!, added: added.map((c) => c.fingerprint), pending, changed };
  });
}

const certificateInput = z.object({ fingerprint: z.string().trim().min(1, "Choose a certificate.").max(200) });

async function changeCertificates(
  ctx: DomainContext,
  id: string,
  input: unknown,
  change: (idp: IdentityProvider, cert: IdpCertificate) => { certificates: IdpCertificate[]; action: string; after?: IdpCertificate },
): Promise<IdentityProvider> {
  const { fingerprint } = parseInput(certificateInput, input);
  authorize(ctx.actor, "identity_providers", "write");
  return inTransaction(async (tx) => {
    const before = await lockIdp(tx, id);
    const cert = before.certificates.find((c) => c.fingerprint === fingerprint);
    if (!cert) throw new NotFoundError("This identity provider has no such certificate.");
    const { certificates, action, after: changedCert } = change(before, cert);
    const [after] = await tx
      .update(identityProviders)
      .set({ certificates, version: sql`${identityProviders.version} + 1`, updatedAt: sql`now()` })
      .where(eq(identityProviders.id, before.id))
      .returning();
    await recordAudit(tx, ctx, {
      action,
      targetType: "identity_provider",
      targetId: before.id,
      targetLabel: before.name,
      before: describeCertificate(cert),
      ...(changedCert ? { after: describeCertificate(changedCert) } : {}),
    });
    // Last: Jackson keeps its own copy, which a rollback here would not undo.
    await syncJackson(after!);
    return after!;
  });
}

/**
 * Trusts a pending certificate: assertions it signs are accepted from now on (our check and
 * Jackson's). Audited with its fingerprint. An expired certificate is not approved.
 */
export async function approveCertificate(ctx: DomainContext, id: string, input: unknown): Promise<IdentityProvider> {
  return changeCertificates(ctx, id, input, (idp, cert) => {
    if (cert.status === "approved") throw new ValidationError("This certificate is already approved.");
    if (new Date(cert.notAfter).getTime() < Date.now()) throw new ValidationError(`This certificate expired on ${cert.notAfter.slice(0, 10)}; it is not approved.`);
    const approved: IdpCertificate = { ...cert, status: "approved", approvedAt: new Date().toISOString(), approvedBy: ctx.actor.label };
    return { action: "identity_provider.certificate_approve", after: approved, certificates: idp.certificates.map((c) => (c.fingerprint === cert.fingerprint ? approved : c)) };
  });
}

/** Whether `cert` is the only approved certificate of its IdP: it cannot be removed (the console offers no Remove for it). */
export function isLastApprovedCertificate(certificates: readonly { status: string }[], cert: { status: string }): boolean {
  return cert.status === "approved" && certificates.filter((c) => c.status === "approved").length === 1;
}

/**
 * Removes a certificate (an old one after a rollover, or a pending one that is not the IdP's).
 * Audited with its fingerprint. The last approved certificate is not removed: the IdP would accept
 * nothing. One the metadata still lists comes back at the next refresh (pending, or approved when the
 * IdP trusts its metadata URL's rollovers).
 */
export async function removeCertificate(ctx: DomainContext, id: string, input: unknown): Promise<IdentityProvider> {
  return changeCertificates(ctx, id, input, (idp, cert) => {
    if (isLastApprovedCertificate(idp.certificates, cert)) {
      throw new ValidationError(`This is the last approved signing certificate of ${idp.name}: without it no sign-in with this IdP would be accepted. Approve its successor first.`);
    }
    return { action: "identity_provider.certificate_remove", certificates: idp.certificates.filter((c) => c.fingerprint !== cert.fingerprint) };
  });
}

export async function deleteIdentityProvider(ctx: DomainContext, id: string): Promise<void> {
  authorize(ctx.actor, "identity_providers", "write");
  await inTransaction(async (tx) => {
    const idp = await lockIdp(tx, id);
    const inUse = await tx.select({ environmentId: environmentAuth.environmentId }).from(environmentAuth).where(and(eq(environmentAuth.identityProviderId, idp.id), eq(environmentAuth.ssoEnabled, true)));
    if (inUse.length) {
      throw new ValidationError("Environments still sign in with this identity provider; turn SSO off there first.");
    }
    const [more] = await tx
      .select({ environmentId: environmentIdentityProviders.environmentId })
      .from(environmentIdentityProviders)
      .where(eq(environmentIdentityProviders.identityProviderId, idp.id))
      .limit(1);
    if (more) throw new ValidationError("An environment signs in with this identity provider for some email domains; remove it from that environment's sign-in settings first.");
    const [console] = await tx.select({ on: consoleSso.enabled }).from(consoleSso).where(and(eq(consoleSso.identityProviderId, idp.id), eq(consoleSso.enabled, true)));
    if (console) throw new ValidationError("Console members sign in with this identity provider; turn console SSO off first (Security).");
    await tx.delete(identityProviders).where(eq(identityProviders.id, idp.id));
    if (idp.protocol === "saml") {
      const { connections } = await jackson();
      await connections.deleteConnections({ tenant: idp.id, product: JACKSON_PRODUCT });
    }
    await recordAudit(tx, ctx, { action: "identity_provider.delete", targetType: "identity_provider", targetId: idp.id, targetLabel: idp.name, before: snapshot(idp) });
  });
}

export type IdentityProviderSummary = Pick<IdentityProvider, "id" | "name" | "entityId" | "preset" | "allowIdpInitiated" | "protocol" | "oidcIssuer"> & {
  /** When the newest approved signing certificate expires, and the 90/30/7-day warning it is under. */
  certificateExpiresAt: string | null;
  certificateWarning: ReturnType<typeof certificateWarning>;
  /** Certificates read from the metadata that await an administrator's approval. */
  pendingCertificates: number;
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
      protocol: identityProviders.protocol,
      oidcIssuer: identityProviders.oidcIssuer,
      certificateExpiresAt: sql<string | null>`(select max(c ->> 'notAfter') from jsonb_array_elements(${identityProviders.certificates}) c where c ->> 'status' = 'approved')`,
      pendingCertificates: sql<number>`(select count(*)::int from jsonb_array_elements(${identityProviders.certificates}) c where c ->> 'status' = 'pending')`,
    })
    .from(identityProviders)
    .orderBy(asc(sql`lower(${identityProviders.name})`));
  return rows.map((r) => ({ ...r, certificateWarning: r.certificateExpiresAt ? certificateWarning(r.certificateExpiresAt) : null }));
}

/** An IdP's name, or null when it is gone (a session's IdP an admin deleted since). */
export async function identityProviderName(id: string, executor: Executor = getDb()): Promise<string | null> {
  const [row] = await executor.select({ name: identityProviders.name }).from(identityProviders).where(eq(identityProviders.id, id));
  return row?.name ?? null;
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
      const found = new Map(
        (await tx.select({ id: groups.id, source: groups.source }).from(groups).where(and(inArray(groups.id, groupIds), eq(groups.environmentId, env.id)))).map((g) => [g.id, g.source]),
      );
      // Each refusal names its row, so the console shows it beside that row.
      const row = data.mappings.findIndex((m) => !found.has(m.groupId));
      if (row >= 0) throw new ValidationError("A mapped group is not in this environment.", { [`mappings.${row}.groupId`]: ["This group is not in this environment."] });
      const everyone = data.mappings.findIndex((m) => found.get(m.groupId) === "system");
      if (everyone >= 0) throw new ValidationError("Everyone cannot be mapped: everyone with access is in it.", { [`mappings.${everyone}.groupId`]: ["Everyone cannot be mapped: everyone with access is in it."] });
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
