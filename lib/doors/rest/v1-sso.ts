import "server-only";
import { z } from "zod";
import { IDP_PRESETS, IDP_PROTOCOLS, OIDC_TOKEN_AUTH_METHODS, SECOND_FACTOR_POLICIES, SSO_ENFORCEMENTS } from "@/db/enums";
import { eq } from "drizzle-orm";
import type { Tx } from "@/db/client";
import { environments, identityProviders, type Environment, type IdentityProvider } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { listEnvironments, updateEnvironment } from "@/lib/environments";
import { NotFoundError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { spEndpoints } from "@/lib/sso/endpoints";
import { oidcRedirectUri } from "@/lib/sso/oidc";
import { getEnvironmentAuth, updateEnvironmentAuth, type EnvironmentAuthSettings } from "@/lib/sso/environment-auth";
import { listTraces } from "@/lib/sso/flow";
import {
  approveCertificate,
  certificateViews,
  createIdentityProvider,
  deleteIdentityProvider,
  getIdentityProvider,
  type GroupMappingRow,
  listGroupMappings,
  listIdentityProviders,
  refreshMetadata,
  removeCertificate,
  setGroupMappings,
  updateIdentityProvider,
} from "@/lib/sso/identity-providers";
import { parseInput } from "@/lib/validation";
import { bodyEtag, environmentByKey, etag, id, ifMatchVersion, withIfMatch, type Endpoint } from "./endpoint";

// The sign-in half of the admin REST API: renaming environments, an environment's sign-in settings,
// identity providers (create from a metadata URL or XML, refresh, certificates and their approval,
// group mappings, sign-in traces). Each endpoint calls the same domain function as the console.
// PUT and PATCH of versioned rows honour If-Match with the ETag their GET answered (412 when stale).

const keyParam = z.string().min(1).max(64);

// ---- Environments: rename -------------------------------------------------------

const environmentOut = z.object({ id: z.uuid(), key: z.string(), name: z.string(), description: z.string() });
const environmentBody = (e: Environment): z.output<typeof environmentOut> => ({ id: e.id, key: e.key, name: e.name, description: e.description });

// ---- Sign-in settings -----------------------------------------------------------

const signInOut = z.object({
  environment: z.string(),
  version: z.number().int().describe("Also the ETag: pass it as If-Match to PUT"),
  passwordEnabled: z.boolean(),
  ssoEnabled: z.boolean(),
  identityProvider: z.object({ id: z.uuid(), name: z.string() }).nullable(),
  enforcement: z.enum(SSO_ENFORCEMENTS),
  enforcedDomains: z.array(z.string()),
  breakGlassUsers: z.array(z.object({ id: z.uuid(), email: z.string() })),
  jitEnabled: z.boolean(),
  jitGroups: z.array(z.object({ id: z.uuid(), name: z.string() })),
  groupSyncEnabled: z.boolean(),
  groupAttribute: z.string().nullable(),
  sessionLifetimeMinutes: z.number().int(),
  idleTimeoutMinutes: z.number().int(),
  tokenLifetimeSeconds: z.number().int(),
  secondFactor: z.enum(SECOND_FACTOR_POLICIES).describe("Second factors on password sign-in: off, optional (for users who enrol one) or required"),
  oauthDynamicRegistration: z.boolean().describe("MCP clients may register themselves with the environment's OAuth authorization server (RFC 7591)"),
  oauthClientMetadataDocuments: z.boolean().describe("MCP clients may identify themselves by a Client ID Metadata Document (an https URL as client_id)"),
  additionalIdentityProviders: z
    .array(z.object({ id: z.uuid(), name: z.string(), protocol: z.enum(IDP_PROTOCOLS), domains: z.array(z.string()) }))
    .describe("More IdPs beside the main one, each for the email domains it serves (home realm discovery; several for one domain: the person chooses)"),
});
const signInBody = (s: EnvironmentAuthSettings, environment: string): z.output<typeof signInOut> => ({
  environment,
  version: s.version,
  passwordEnabled: s.passwordEnabled,
  ssoEnabled: s.ssoEnabled,
  identityProvider: s.identityProvider ? { id: s.identityProvider.id, name: s.identityProvider.name } : null,
  enforcement: s.enforcement,
  enforcedDomains: s.enforcedDomains,
  breakGlassUsers: s.breakGlassUsers.map((u) => ({ id: u.id, email: u.email })),
  jitEnabled: s.jitEnabled,
  jitGroups: s.jitGroups.map((g) => ({ id: g.id, name: g.name })),
  groupSyncEnabled: s.groupSyncEnabled,
  groupAttribute: s.groupAttribute,
  sessionLifetimeMinutes: s.sessionLifetimeMinutes,
  idleTimeoutMinutes: s.idleTimeoutMinutes,
  tokenLifetimeSeconds: s.tokenLifetimeSeconds,
  secondFactor: s.secondFactor,
  oauthDynamicRegistration: s.oauthDynamicRegistration,
  oauthClientMetadataDocuments: s.oauthClientMetadataDocuments,
  additionalIdentityProviders: s.additionalIdentityProviders,
});
const signInIn = z.object({
  passwordEnabled: z.boolean(),
  ssoEnabled: z.boolean(),
  identityProviderId: z.uuid().nullable(),
  enforcement: z.enum(SSO_ENFORCEMENTS),
  enforcedDomains: z.array(z.string()).optional().describe("Left out, they stay; [] clears"),
  breakGlassUserIds: z.array(z.uuid()).optional().describe("Left out (with breakGlassEmails), they stay; [] clears"),
  breakGlassEmails: z.array(z.string()).optional().describe("Break-glass users by email, added to breakGlassUserIds"),
  jitEnabled: z.boolean(),
  jitGroupIds: z.array(z.uuid()).optional().describe("Left out, they stay; [] clears"),
  groupSyncEnabled: z.boolean(),
  groupAttribute: z.string().nullable().optional().describe("Left out, it stays; null clears"),
  sessionLifetimeMinutes: z.number().int(),
  idleTimeoutMinutes: z.number().int(),
  tokenLifetimeSeconds: z.number().int().optional().describe("Left out, it stays"),
  secondFactor: z.enum(SECOND_FACTOR_POLICIES).optional().describe("Left out, the current policy stays"),
  oauthDynamicRegistration: z.boolean().optional().describe("Left out, the current setting stays"),
  oauthClientMetadataDocuments: z.boolean().optional().describe("Left out, the current setting stays"),
  additionalIdentityProviders: z
    .array(z.object({ identityProviderId: z.uuid(), domains: z.array(z.string()) }))
    .optional()
    .describe("More IdPs by email domain; left out, they stay; [] removes them"),
});

// ---- Identity providers ---------------------------------------------------------

const certificateOut = z.object({
  fingerprint: z.string(),
  subject: z.string(),
  status: z.enum(["approved", "pending"]),
  notBefore: z.string(),
  notAfter: z.string(),
  source: z.string().nullable(),
  inMetadata: z.boolean(),
  approvedBy: z.string().nullable(),
  approvedAt: z.string().nullable(),
  warning: z.object({ level: z.union([z.literal(90), z.literal(30), z.literal(7), z.literal("expired")]), days: z.number().int() }).nullable().describe("Expires within 90, 30 or 7 days, or has expired"),
});
const warningOut = z.object({ level: z.union([z.literal(90), z.literal(30), z.literal(7), z.literal("expired")]), days: z.number().int() }).nullable();
const idpOut = z.object({
  id: z.uuid(),
  name: z.string(),
  preset: z.enum(IDP_PRESETS),
  protocol: z.enum(IDP_PROTOCOLS).describe("saml (SAML 2.0, by metadata) or oidc (OpenID Connect, by discovery)"),
  oidcIssuer: z.string().nullable().describe("OpenID Connect: the issuer (discovery at <issuer>/.well-known/openid-configuration)"),
  oidcClientId: z.string().nullable(),
  oidcClientSecretSet: z.boolean().describe("Whether a client secret is kept (sealed; never returned)"),
  oidcScopes: z.string(),
  oidcTokenAuthMethod: z.enum(OIDC_TOKEN_AUTH_METHODS).describe("How our client authenticates at the IdP's token endpoint"),
  entityId: z.string().nullable(),
  ssoUrl: z.string().nullable(),
  metadataUrl: z.string().nullable(),
  metadataRefreshedAt: z.string().nullable(),
  metadataError: z.string().nullable(),
  attributeMapping: z.object({ email: z.string(), name: z.string(), groups: z.string() }),
  allowIdpInitiated: z.boolean(),
  allowSha1: z.boolean(),
  createGroupsFromAssertion: z.boolean(),
  autoTrustRollover: z.boolean(),
  certificates: z.array(certificateOut),
  version: z.number().int().describe("Also the ETag: pass it as If-Match to PATCH"),
  serviceProvider: z.object({ entityId: z.string(), acsUrl: z.string(), metadataUrl: z.string(), oidcRedirectUri: z.string() }).describe("What to enter in the IdP"),
  createdAt: z.string(),
  updatedAt: z.string(),
});
const idpBody = (idp: IdentityProvider): z.output<typeof idpOut> => {
  const sp = spEndpoints();
  return {
    id: idp.id,
    name: idp.name,
    preset: idp.preset,
    protocol: idp.protocol,
    oidcIssuer: idp.oidcIssuer,
    oidcClientId: idp.oidcClientId,
    oidcClientSecretSet: !!idp.oidcClientSecret,
    oidcScopes: idp.oidcScopes,
    oidcTokenAuthMethod: idp.oidcTokenAuthMethod,
    entityId: idp.entityId,
    ssoUrl: idp.ssoUrl,
    metadataUrl: idp.metadataUrl,
    metadataRefreshedAt: idp.metadataRefreshedAt?.toISOString() ?? null,
    metadataError: idp.metadataError,
    attributeMapping: idp.attributeMapping,
    allowIdpInitiated: idp.allowIdpInitiated,
    allowSha1: idp.allowSha1,
    createGroupsFromAssertion: idp.createGroupsFromAssertion,
    autoTrustRollover: idp.autoTrustRollover,
    certificates: certificateViews(idp).map((c) => ({
      fingerprint: c.fingerprint,
      subject: c.subject,
      status: c.status,
      notBefore: c.notBefore,
      notAfter: c.notAfter,
      source: c.source,
      inMetadata: c.inMetadata,
      approvedBy: c.approvedBy ?? null,
      approvedAt: c.approvedAt ?? null,
      warning: c.warning ?? null,
    })),
    version: idp.version,
    serviceProvider: { entityId: sp.entityId, acsUrl: sp.acsUrl, metadataUrl: sp.metadataUrl, oidcRedirectUri: oidcRedirectUri() },
    createdAt: idp.createdAt.toISOString(),
    updatedAt: idp.updatedAt.toISOString(),
  };
};
const idpSummaryOut = z.object({
  id: z.uuid(),
  name: z.string(),
  preset: z.enum(IDP_PRESETS),
  protocol: z.enum(IDP_PROTOCOLS),
  oidcIssuer: z.string().nullable(),
  entityId: z.string().nullable(),
  allowIdpInitiated: z.boolean(),
  certificateExpiresAt: z.string().nullable(),
  certificateWarning: warningOut,
  pendingCertificates: z.number().int(),
});
const fingerprintIn = z.object({ fingerprint: z.string().describe("SHA-256 fingerprint, as GET /identity-providers/{id} lists it") });
const mappingOut = z.object({ idpValue: z.string(), groupId: z.uuid(), group: z.string() });
const mappingsBody = (environment: string, rows: GroupMappingRow[]) => ({ environment, data: rows.map((m) => ({ idpValue: m.idpValue, groupId: m.groupId, group: m.groupName })) });
const traceOut = z.object({
  id: z.uuid(),
  createdAt: z.string(),
  environment: z.string().nullable(),
  flow: z.string(),
  outcome: z.string(),
  failedCheck: z.string().nullable(),
  reason: z.string().nullable(),
  issuer: z.string().nullable(),
  subject: z.string().nullable(),
  groups: z.array(z.string()).nullable(),
  attributes: z.record(z.string(), z.array(z.string())).nullable(),
  result: z.record(z.string(), z.unknown()).nullable(),
  userEmail: z.string().nullable(),
});

/** An environment given by key in the query (`?environment=`), required. */
const environmentQuery = z.object({ environment: z.string({ error: "Name the environment: ?environment=<key>." }).min(1, "Name the environment: ?environment=<key>.").max(64) });

async function withEtag(idp: IdentityProvider, status = 200) {
  return { status, body: idpBody(idp), headers: { etag: etag(idp.version) } };
}

/** The environments whose traces the actor may read: an environment-scoped caller, its own; others, all (null). */
function traceScope(ctx: DomainContext): readonly string[] | null {
  if (ctx.actor.type === "api_token") return ctx.actor.environmentIds ?? null;
  if (ctx.actor.type === "console_member" && ctx.actor.role === "environment_admin") return ctx.actor.environmentIds;
  return null;
}

export const SSO_ENDPOINTS: Endpoint[] = [
  {
    method: "GET",
    path: "/environments/{key}",
    summary: "Get an environment (ETag for PATCH)",
    tag: "Environments",
    permission: ["environments", "read"],
    response: environmentOut,
    async handle({ params }) {
      const body = environmentBody(await environmentByKey(params.key!));
      return { body, headers: { etag: bodyEtag(body) } };
    },
  },
  {
    method: "PATCH",
    path: "/environments/{key}",
    summary: "Rename an environment or change its description (its key stays: it is in URLs, token issuers and pipelines; If-Match, 412 when stale)",
    tag: "Environments",
    permission: ["environments", "write"],
    body: z.object({ name: z.string().optional(), description: z.string().optional() }),
    response: environmentOut,
    async handle({ ctx, params, body, headers }) {
      const env = await environmentByKey(params.key!);
      const locked = async (tx: Tx) => {
        const [row] = await tx.select().from(environments).where(eq(environments.id, env.id)).for("update");
        return bodyEtag(environmentBody(row!));
      };
      const changed = await withIfMatch(headers, {
        authorize: () => authorize(ctx.actor, "environments", "write"),
        lock: locked,
        change: () => updateEnvironment(ctx, env.id, body),
      });
      const out = environmentBody(changed);
      return { body: out, headers: { etag: bodyEtag(out) } };
    },
  },
  {
    method: "GET",
    path: "/environments/{key}/sign-in",
    summary: "How the environment's users sign in: password, SSO and its IdP, enforcement, JIT, group sync, lifetimes (ETag for PUT)",
    tag: "Sign-in",
    permission: ["environment_auth", "read"],
    response: signInOut,
    async handle({ ctx, params }) {
      const env = await environmentByKey(parseInput(keyParam, params.key));
      authorize(ctx.actor, "environment_auth", "read", [env.id]);
      const settings = await getEnvironmentAuth(env.id);
      return { body: signInBody(settings, env.key), headers: { etag: etag(settings.version) } };
    },
  },
  {
    method: "PUT",
    path: "/environments/{key}/sign-in",
    summary: "Replace the environment's sign-in settings (one audited change; If-Match for optimistic concurrency, 412 when stale)",
    tag: "Sign-in",
    permission: ["environment_auth", "write"],
    body: signInIn,
    response: signInOut,
    async handle({ ctx, params, body, headers }) {
      const env = await environmentByKey(parseInput(keyParam, params.key));
      const expectedVersion = ifMatchVersion(headers);
      const settings = await updateEnvironmentAuth(ctx, env.id, { ...(body as object), expectedVersion });
      return { body: signInBody(settings, env.key), headers: { etag: etag(settings.version) } };
    },
  },
  {
    method: "GET",
    path: "/identity-providers",
    summary: "Connected SAML identity providers (account-wide), with the expiry of their signing certificate and pending rollovers",
    tag: "Identity providers",
    permission: ["identity_providers", "read"],
    response: z.object({ data: z.array(idpSummaryOut) }),
    async handle({ ctx }) {
      authorize(ctx.actor, "identity_providers", "read");
      const rows = await listIdentityProviders();
      return { body: { data: rows.map((r) => ({ ...r, certificateWarning: r.certificateWarning ?? null })) } };
    },
  },
  {
    method: "POST",
    path: "/identity-providers",
    summary:
      "Connect an identity provider: SAML from its metadata URL (https; refreshed daily) or XML, the certificates it lists trusted; or OpenID Connect (protocol oidc) from its issuer, checked by discovery",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    body: z.object({
      protocol: z.enum(IDP_PROTOCOLS).optional().describe("saml (default) or oidc"),
      name: z.string(),
      preset: z.enum(IDP_PRESETS).optional(),
      metadataUrl: z.string().optional(),
      metadataXml: z.string().optional(),
      oidcIssuer: z.string().optional().describe("OpenID Connect: the issuer or its discovery URL"),
      oidcClientId: z.string().optional(),
      oidcClientSecret: z.string().optional().describe("Stored sealed, never returned"),
      oidcScopes: z.string().optional().describe("Space-separated, with openid (default: openid email profile)"),
      oidcTokenAuthMethod: z.enum(OIDC_TOKEN_AUTH_METHODS).optional().describe("client_secret_basic (default) or client_secret_post, as the client is registered at the IdP"),
    }),
    response: idpOut,
    status: 201,
    async handle({ ctx, body }) {
      const idp = await createIdentityProvider(ctx, body);
      const answer = await withEtag(idp, 201);
      return { ...answer, headers: { ...answer.headers, location: `/api/v1/identity-providers/${idp.id}` } };
    },
  },
  {
    method: "GET",
    path: "/identity-providers/{id}",
    summary: "An identity provider: its metadata, certificates (approved and pending), attribute mapping, options, and what to enter in the IdP (ETag for PATCH)",
    tag: "Identity providers",
    permission: ["identity_providers", "read"],
    response: idpOut,
    async handle({ ctx, params }) {
      authorize(ctx.actor, "identity_providers", "read");
      return withEtag(await getIdentityProvider(id(params)));
    },
  },
  {
    method: "PATCH",
    path: "/identity-providers/{id}",
    summary: "Change an identity provider's name, preset, attribute mapping or options (If-Match for optimistic concurrency, 412 when stale)",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    body: z.object({
      name: z.string().optional(),
      preset: z.enum(IDP_PRESETS).optional(),
      attributeMapping: z.object({ email: z.string(), name: z.string(), groups: z.string() }).optional(),
      allowIdpInitiated: z.boolean().optional(),
      allowSha1: z.boolean().optional(),
      createGroupsFromAssertion: z.boolean().optional(),
      autoTrustRollover: z.boolean().optional(),
      oidcClientId: z.string().optional().describe("OpenID Connect only"),
      oidcClientSecret: z.string().optional().describe("OpenID Connect only: a rotated secret (discovery is checked again)"),
      oidcScopes: z.string().optional().describe("OpenID Connect only"),
      oidcTokenAuthMethod: z.enum(OIDC_TOKEN_AUTH_METHODS).optional().describe("OpenID Connect only"),
    }),
    response: idpOut,
    async handle({ ctx, params, body, headers }) {
      const expectedVersion = ifMatchVersion(headers);
      return withEtag(await updateIdentityProvider(ctx, id(params), { ...(body as object), expectedVersion }));
    },
  },
  {
    method: "DELETE",
    path: "/identity-providers/{id}",
    summary: "Disconnect an identity provider (refused while an environment signs in with it)",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    response: z.null(),
    status: 204,
    async handle({ ctx, params }) {
      await deleteIdentityProvider(ctx, id(params));
      return { status: 204 };
    },
  },
  {
    method: "POST",
    path: "/identity-providers/{id}/refresh",
    summary: "Read the metadata again (from its URL, or the XML given): new certificates wait for approval unless the IdP's rollovers are trusted",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    body: z.object({ metadataXml: z.string().optional() }),
    response: z.object({ identityProvider: idpOut, added: z.array(z.string()), pending: z.array(z.string()), changed: z.boolean() }),
    async handle({ ctx, params, body }) {
      const r = await refreshMetadata(ctx, id(params), body ?? {});
      return { body: { identityProvider: idpBody(r.idp), added: r.added, pending: r.pending, changed: r.changed }, headers: { etag: etag(r.idp.version) } };
    },
  },
  {
    method: "POST",
    path: "/identity-providers/{id}/certificates/approve",
    summary: "Trust a pending signing certificate (audited with its fingerprint; an expired one is refused)",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    body: fingerprintIn,
    response: idpOut,
    async handle({ ctx, params, body }) {
      return withEtag(await approveCertificate(ctx, id(params), body));
    },
  },
  {
    method: "POST",
    path: "/identity-providers/{id}/certificates/remove",
    summary: "Remove a signing certificate (the last approved one is refused: no sign-in would be accepted)",
    tag: "Identity providers",
    permission: ["identity_providers", "write"],
    body: fingerprintIn,
    response: idpOut,
    async handle({ ctx, params, body }) {
      return withEtag(await removeCertificate(ctx, id(params), body));
    },
  },
  {
    method: "GET",
    path: "/identity-providers/{id}/mappings",
    summary: "The IdP's group value → group table in one environment (?environment=<key>)",
    tag: "Identity providers",
    permission: ["environment_auth", "read"],
    query: environmentQuery,
    response: z.object({ environment: z.string(), data: z.array(mappingOut) }),
    async handle({ ctx, params, query }) {
      const idp = await getIdentityProvider(id(params));
      const env = await environmentByKey(String(query.environment));
      authorize(ctx.actor, "environment_auth", "read", [env.id]);
      const body = mappingsBody(env.key, await listGroupMappings(idp.id, env.id));
      return { body, headers: { etag: bodyEtag(body) } };
    },
  },
  {
    method: "PUT",
    path: "/identity-providers/{id}/mappings",
    summary: "Replace the IdP's group value → group table in one environment (one audited change; If-Match with the ETag of GET …/mappings, 412 when stale)",
    tag: "Identity providers",
    permission: ["environment_auth", "write"],
    body: z.object({ environment: z.string(), mappings: z.array(z.object({ idpValue: z.string(), groupId: z.uuid() })) }),
    response: z.object({ environment: z.string(), data: z.array(mappingOut) }),
    async handle({ ctx, params, body, headers }) {
      const { environment, mappings } = parseInput(z.object({ environment: z.string({ error: "Name the environment (its key)." }).min(1, "Name the environment (its key)."), mappings: z.unknown() }), body ?? {});
      const env = await environmentByKey(environment);
      const idpId = id(params);
      // The IdP's row is what setGroupMappings locks: the table of one environment is compared under it.
      const locked = async (tx: Tx) => {
        const [idp] = await tx.select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.id, idpId)).for("update");
        if (!idp) throw new NotFoundError("Identity provider not found.");
        return bodyEtag(mappingsBody(env.key, await listGroupMappings(idpId, env.id, tx)));
      };
      const changed = await withIfMatch(headers, {
        authorize: () => authorize(ctx.actor, "environment_auth", "write", [env.id]),
        lock: locked,
        change: () => setGroupMappings(ctx, idpId, { environmentId: env.id, mappings }),
      });
      const out = mappingsBody(env.key, changed);
      return { body: out, headers: { etag: bodyEtag(out) } };
    },
  },
  {
    method: "GET",
    path: "/identity-providers/{id}/traces",
    summary: "The IdP's latest sign-in traces (each check passed or failed, with the reason), newest first; ?environment=<key> narrows them",
    tag: "Identity providers",
    permission: ["identity_providers", "read"],
    query: z.object({ environment: z.string().max(64).optional(), limit: z.coerce.number().int().min(1).max(200).default(50) }),
    response: z.object({ data: z.array(traceOut) }),
    async handle({ ctx, params, query }) {
      authorize(ctx.actor, "identity_providers", "read");
      const idp = await getIdentityProvider(id(params));
      const env = query.environment ? await environmentByKey(String(query.environment)) : null;
      if (env) authorize(ctx.actor, "environment_auth", "read", [env.id]);
      const keys = new Map((await listEnvironments()).map((e) => [e.id, e.key]));
      const scope = traceScope(ctx);
      const rows = (await listTraces(idp.id, Number(query.limit))).filter((t) => (!env || t.environmentId === env.id) && (!scope || (t.environmentId !== null && scope.includes(t.environmentId))));
      return {
        body: {
          data: rows.map((t) => ({
            id: t.id,
            createdAt: t.createdAt.toISOString(),
            environment: t.environmentId ? (keys.get(t.environmentId) ?? null) : null,
            flow: t.flow,
            outcome: t.outcome,
            failedCheck: t.failedCheck,
            reason: t.reason,
            issuer: t.issuer,
            subject: t.subject,
            groups: t.groups,
            attributes: t.attributes,
            result: t.result,
            userEmail: t.userEmail,
          })),
        },
      };
    },
  },
];
