import { relations, sql, type SQL } from "drizzle-orm";
import {
  bigint,
  customType,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
  type AnyPgColumn,
} from "drizzle-orm/pg-core";
import {
  ACCESS_REQUEST_STATUSES,
  ACCESS_SOURCES,
  ACTOR_TYPES,
  AUDIT_OUTCOMES,
  CONSOLE_MEMBER_STATUSES,
  CONSOLE_PASSWORD_SIGN_IN,
  CONSOLE_ROLES,
  CONSOLE_SIGN_IN_METHODS,
  CONSOLE_SSO_ROLES,
  SSO_REQUEST_PURPOSES,
  SECOND_FACTOR_KINDS,
  SECOND_FACTOR_POLICIES,
  DIRECTORY_PATCH_ANSWERS,
  DIRECTORY_STATUSES,
  EMAIL_VERIFIERS,
  FEATURES,
  GROUP_SOURCES,
  IDP_PRESETS,
  IDP_PROTOCOLS,
  OIDC_TOKEN_AUTH_METHODS,
  KEY_ALGORITHMS,
  KEY_STATES,
  LEDGER_KINDS,
  MCP_TOOLS,
  MEMBERSHIP_SOURCES,
  EXCLUSION_KINDS,
  EXCLUSION_SOURCES,
  REVIEW_DECISIONS,
  REVIEW_ITEM_KINDS,
  REVIEW_SCOPES,
  REVIEW_STATUSES,
  SIGN_IN_METHODS,
  SSO_ENFORCEMENTS,
  USER_SOURCES,
  USER_STATUSES,
} from "./enums";

const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => "bytea" });

/** `col in ('a','b')` as a check constraint, from the same tuple zod uses. */
function oneOf(column: AnyPgColumn, values: readonly string[]): SQL {
  return sql`${column} in (${sql.raw(values.map((v) => `'${v}'`).join(", "))})`;
}

const tz = { withTimezone: true } as const;
const createdAt = () => timestamp(tz).notNull().defaultNow();
const updatedAt = () => timestamp(tz).notNull().defaultNow();

// ---------------------------------------------------------------------------
// Environments
// ---------------------------------------------------------------------------

export const environments = pgTable(
  "environments",
  {
    id: uuid().primaryKey().defaultRandom(),
    key: text().notNull(),
    name: text().notNull(),
    description: text().notNull().default(""),
    position: integer().notNull().default(0),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("environments_key_key").on(t.key),
    uniqueIndex("environments_name_lower_key").on(sql`lower(${t.name})`),
    check("environments_key_format", sql`${t.key} ~ '^[a-z][a-z0-9-]{0,31}$'`),
  ],
);

// ---------------------------------------------------------------------------
// Users (end users of the platform, account-wide)
// ---------------------------------------------------------------------------

export const users = pgTable(
  "users",
  {
    id: uuid().primaryKey().defaultRandom(),
    email: text().notNull(),
    name: text().notNull(),
    status: text({ enum: USER_STATUSES }).notNull().default("active"),
    source: text({ enum: USER_SOURCES }).notNull().default("manual"),
    externalId: text(),
    passwordHash: text(),
    passwordChangedAt: timestamp(tz),
    failedSignIns: integer().notNull().default(0),
    lockedUntil: timestamp(tz),
    lastSignInAt: timestamp(tz),
    // Tokens and sessions issued before this instant are no longer valid ("sign out everywhere").
    revokedBefore: timestamp(tz),
    // When the email was proven to be the person's (an invitation or reset link used at that
    // address, or a directory or IdP that asserted it), and by what. Linking an IdP identity by
    // email needs it; an admin's email change clears it.
    emailVerifiedAt: timestamp(tz),
    emailVerifiedBy: text({ enum: EMAIL_VERIFIERS }),
    // For a directory or IdP: the environment it acts in (its proof counts there only).
    emailVerifiedEnvironmentId: uuid(),
    // Row version, exposed as an ETag (SCIM meta.version, REST If-Match).
    version: integer().notNull().default(1),
    // The environments the user may enter, as sorted keys ("dev,prod"), kept by triggers on
    // environment_access: the users table sorts on it.
    environmentKeys: text().notNull().default(""),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`),
    index("users_environment_keys_idx").on(t.environmentKeys, t.id),
    // Substring search on name and email in one trigram index.
    index("users_search_trgm_idx").using("gin", sql`lower(${t.name} || ' ' || ${t.email}) gin_trgm_ops`),
    // One (sort key, id) index per sortable column of the users table, for keyset pagination.
    index("users_created_at_idx").on(t.createdAt, t.id),
    index("users_name_idx").on(sql`lower(${t.name})`, t.id),
    index("users_email_sort_idx").on(sql`lower(${t.email})`, t.id),
    index("users_last_sign_in_idx").on(sql`coalesce(${t.lastSignInAt}, '-infinity'::timestamptz)`, t.id),
    index("users_status_sort_idx").on(t.status, t.id),
    index("users_source_sort_idx").on(t.source, t.id),
    index("users_status_created_idx").on(t.status, t.createdAt, t.id),
    index("users_source_created_idx").on(t.source, t.createdAt, t.id),
    index("users_external_id_idx").on(t.externalId),
    check("users_status_check", oneOf(t.status, USER_STATUSES)),
    check("users_source_check", oneOf(t.source, USER_SOURCES)),
    check("users_email_format", sql`${t.email} ~ '^[^@\\s]+@[^@\\s]+$'`),
    check("users_version_positive", sql`${t.version} > 0`),
    check("users_email_verified_by_check", oneOf(t.emailVerifiedBy, EMAIL_VERIFIERS)),
  ],
);

export const environmentAccess = pgTable(
  "environment_access",
  {
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    source: text({ enum: ACCESS_SOURCES }).notNull().default("manual"),
    directoryId: uuid().references(() => directories.id, { onDelete: "set null" }),
    grantedAt: createdAt(),
    // How many groups (besides Everyone) the user belongs to in this environment; kept by triggers.
    groupCount: integer().notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.userId, t.environmentId] }),
    index("environment_access_env_user_idx").on(t.environmentId, t.userId),
    index("environment_access_env_group_count_idx").on(t.environmentId, t.groupCount, t.userId),
    check("environment_access_source_check", oneOf(t.source, ACCESS_SOURCES)),
  ],
);

// ---------------------------------------------------------------------------
// Groups (inside one environment)
// ---------------------------------------------------------------------------

export const groups = pgTable(
  "groups",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    description: text().notNull().default(""),
    source: text({ enum: GROUP_SOURCES }).notNull().default("manual"),
    externalId: text(),
    directoryId: uuid().references(() => directories.id, { onDelete: "set null" }),
    // Kept by statement-level triggers on group_members (see the triggers migration).
    memberCount: integer().notNull().default(0),
    version: integer().notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("groups_env_name_lower_key").on(t.environmentId, sql`lower(${t.name})`),
    // Exactly one Everyone group per environment.
    uniqueIndex("groups_env_system_key").on(t.environmentId).where(sql`${t.source} = 'system'`),
    index("groups_name_trgm_idx").using("gin", sql`lower(${t.name}) gin_trgm_ops`),
    index("groups_env_member_count_idx").on(t.environmentId, t.memberCount, t.id),
    index("groups_directory_idx").on(t.directoryId, t.externalId),
    check("groups_source_check", oneOf(t.source, GROUP_SOURCES)),
    check("groups_name_not_blank", sql`length(btrim(${t.name})) > 0`),
    check("groups_member_count_nonnegative", sql`${t.memberCount} >= 0`),
  ],
);

export const groupMembers = pgTable(
  "group_members",
  {
    groupId: uuid()
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // Denormalised from groups so "this user's groups in this environment" is one index lookup.
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    source: text({ enum: MEMBERSHIP_SOURCES }).notNull().default("manual"),
    directoryId: uuid().references(() => directories.id, { onDelete: "set null" }),
    // The IdP whose group sync added the membership (source "saml"): each IdP's sync removes only
    // what it added, so two IdPs of one environment do not undo each other's groups. Null for
    // memberships synced before this was kept (any IdP's sync may remove those).
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    // The member's display name as a SCIM client sent it (echoed back in the group's members).
    scimDisplay: text(),
    createdAt: createdAt(),
    // The member's sort keys, copied by triggers (see the member_sort_keys migration), so a group's
    // members list walks one index in the user table's default and name orders.
    userCreatedAt: timestamp(tz).notNull().default(sql`'-infinity'`),
    userNameKey: text().notNull().default(""),
  },
  (t) => [
    primaryKey({ columns: [t.groupId, t.userId] }),
    index("group_members_user_env_idx").on(t.userId, t.environmentId),
    index("group_members_group_created_idx").on(t.groupId, t.createdAt, t.userId),
    index("group_members_group_user_created_idx").on(t.groupId, t.userCreatedAt, t.userId),
    index("group_members_group_user_name_idx").on(t.groupId, t.userNameKey, t.userId),
    // Deleting an IdP clears its memberships' marks without reading every membership.
    index("group_members_identity_provider_idx").on(t.identityProviderId).where(sql`${t.identityProviderId} is not null`),
    check("group_members_source_check", oneOf(t.source, MEMBERSHIP_SOURCES)),
  ],
);

// ---------------------------------------------------------------------------
// Identity providers, per-environment authentication, directories
// ---------------------------------------------------------------------------

/**
 * A signing certificate of an IdP. Only "approved" ones verify assertions (ours and Jackson's): the
 * ones the administrator imported with the IdP, approved in the console, or (with the IdP's
 * autoTrustRollover) read from its metadata URL. One that appears on a refresh is "pending" until then.
 */
export type IdpCertificate = {
  pem: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
  /** When it was first read. */
  addedAt: string;
  status: "approved" | "pending";
  /** Where it was read: the metadata URL, or null for metadata XML pasted in the console. */
  source: string | null;
  /** When metadata listing it was last read. */
  lastSeenAt: string;
  /** Who approved it and when: the admin who connected the IdP, approved it, or the automatic trust (absent for certificates from before approvals). */
  approvedAt?: string;
  approvedBy?: string;
};
export type AttributeMapping = { email: string; name: string; groups: string };

export const identityProviders = pgTable(
  "identity_providers",
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull(),
    preset: text({ enum: IDP_PRESETS }).notNull().default("generic"),
    protocol: text({ enum: IDP_PROTOCOLS }).notNull().default("saml"),
    entityId: text(),
    ssoUrl: text(),
    metadataUrl: text(),
    metadataXml: text(),
    certificates: jsonb().$type<IdpCertificate[]>().notNull().default([]),
    attributeMapping: jsonb()
      .$type<AttributeMapping>()
      .notNull()
      .default({ email: "email", name: "name", groups: "groups" }),
    allowIdpInitiated: boolean().notNull().default(false),
    allowSha1: boolean().notNull().default(false),
    createGroupsFromAssertion: boolean().notNull().default(false),
    // New certificates read from the metadata URL are trusted without an administrator's approval.
    autoTrustRollover: boolean().notNull().default(false),
    // The Jackson connection behind this IdP (Jackson keeps its own tables); its tenant is this
    // row's id and its product lib/sso/jackson.ts's JACKSON_PRODUCT.
    jacksonClientId: text(),
    metadataRefreshedAt: timestamp(tz),
    metadataError: text(),
    // OpenID Connect (protocol "oidc"): the issuer (discovery at <issuer>/.well-known/openid-configuration),
    // our client at the IdP (its secret sealed, lib/crypto/sealed.ts) and the scopes asked for.
    oidcIssuer: text(),
    oidcClientId: text(),
    oidcClientSecret: text(),
    oidcScopes: text().notNull().default("openid email profile"),
    oidcTokenAuthMethod: text({ enum: OIDC_TOKEN_AUTH_METHODS }).notNull().default("client_secret_basic"),
    version: integer().notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("identity_providers_name_lower_key").on(sql`lower(${t.name})`),
    // Jackson finds the connection of a SAML response by its issuer: one IdP per entity ID.
    uniqueIndex("identity_providers_entity_id_key").on(t.entityId),
    check("identity_providers_preset_check", oneOf(t.preset, IDP_PRESETS)),
    check("identity_providers_protocol_check", oneOf(t.protocol, IDP_PROTOCOLS)),
    check("identity_providers_oidc_token_auth_check", oneOf(t.oidcTokenAuthMethod, OIDC_TOKEN_AUTH_METHODS)),
    check("identity_providers_oidc_check", sql`${t.protocol} <> 'oidc' or (${t.oidcIssuer} is not null and ${t.oidcClientId} is not null)`),
  ],
);

export const userIdentities = pgTable(
  "user_identities",
  {
    identityProviderId: uuid()
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    // The NameID / subject the IdP asserts; a second IdP cannot claim an account by email alone.
    subject: text().notNull(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    lastUsedAt: timestamp(tz),
  },
  (t) => [
    primaryKey({ columns: [t.identityProviderId, t.subject] }),
    index("user_identities_user_idx").on(t.userId),
  ],
);

export const environmentAuth = pgTable(
  "environment_auth",
  {
    environmentId: uuid()
      .primaryKey()
      .references(() => environments.id, { onDelete: "cascade" }),
    passwordEnabled: boolean().notNull().default(true),
    ssoEnabled: boolean().notNull().default(false),
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    enforcement: text({ enum: SSO_ENFORCEMENTS }).notNull().default("optional"),
    enforcedDomains: text().array().notNull().default(sql`'{}'::text[]`),
    jitEnabled: boolean().notNull().default(false),
    groupSyncEnabled: boolean().notNull().default(false),
    groupAttribute: text(),
    sessionLifetimeMinutes: integer().notNull().default(720),
    idleTimeoutMinutes: integer().notNull().default(60),
    // Lifetime of the runtime access tokens (JWTs) minted for this environment's end users.
    tokenLifetimeSeconds: integer().notNull().default(600),
    // Second factors on password sign-in (SSO sign-ins rely on the IdP's).
    secondFactor: text({ enum: SECOND_FACTOR_POLICIES }).notNull().default("off"),
    // The environment's OAuth authorization server (MCP clients): dynamic client registration
    // (RFC 7591) and Client ID Metadata Documents, each switchable by an admin.
    oauthDynamicRegistration: boolean().notNull().default(true),
    oauthClientMetadataDocuments: boolean().notNull().default(true),
    version: integer().notNull().default(1),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("environment_auth_enforcement_check", oneOf(t.enforcement, SSO_ENFORCEMENTS)),
    check("environment_auth_session_lifetime", sql`${t.sessionLifetimeMinutes} between 5 and 43200`),
    check("environment_auth_idle_timeout", sql`${t.idleTimeoutMinutes} between 1 and 43200`),
    check("environment_auth_token_lifetime", sql`${t.tokenLifetimeSeconds} between 60 and 3600`),
    check("environment_auth_second_factor_check", oneOf(t.secondFactor, SECOND_FACTOR_POLICIES)),
  ],
);

/**
 * More IdPs an environment signs in with, beside its main one (environment_auth), each chosen by
 * the email domains it serves (home realm discovery); a domain several serve offers a chooser.
 */
export const environmentIdentityProviders = pgTable(
  "environment_identity_providers",
  {
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    identityProviderId: uuid()
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    domains: text().array().notNull(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.identityProviderId] }), index("environment_identity_providers_idp_idx").on(t.identityProviderId)],
);

/** Users who may still sign in with a password while SSO is enforced (break-glass). */
export const environmentBreakGlassUsers = pgTable(
  "environment_break_glass_users",
  {
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.userId] })],
);

/** Groups a user joins when created by JIT sign-in into the environment. */
export const environmentJitGroups = pgTable(
  "environment_jit_groups",
  {
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    groupId: uuid()
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.environmentId, t.groupId] })],
);

/** IdP group value (from the assertion's group attribute) → a group of one environment. */
export const groupMappings = pgTable(
  "group_mappings",
  {
    id: uuid().primaryKey().defaultRandom(),
    identityProviderId: uuid()
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    idpValue: text().notNull(),
    groupId: uuid()
      .notNull()
      .references(() => groups.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("group_mappings_unique_key").on(t.identityProviderId, t.environmentId, t.idpValue, t.groupId),
    index("group_mappings_group_idx").on(t.groupId),
  ],
);

export const directories = pgTable(
  "directories",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    identityProviderId: uuid().references((): AnyPgColumn => identityProviders.id, { onDelete: "set null" }),
    name: text().notNull(),
    // SHA-256 of the bearer token; the token itself is shown once.
    tokenHash: text().notNull(),
    tokenHint: text().notNull(),
    status: text({ enum: DIRECTORY_STATUSES }).notNull().default("active"),
    lastRequestAt: timestamp(tz),
    // How many users the directory holds (directory_users), kept by a statement-level trigger:
    // an unfiltered SCIM list's totalResults without counting.
    userCount: integer().notNull().default(0),
    logRetentionDays: integer().notNull().default(30),
    patchAnswer: text({ enum: DIRECTORY_PATCH_ANSWERS }).notNull().default("resource"),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("directories_patch_answer_check", oneOf(t.patchAnswer, DIRECTORY_PATCH_ANSWERS)),
    uniqueIndex("directories_env_name_lower_key").on(t.environmentId, sql`lower(${t.name})`),
    uniqueIndex("directories_token_hash_key").on(t.tokenHash),
    check("directories_status_check", oneOf(t.status, DIRECTORY_STATUSES)),
  ],
);

/**
 * A user as one directory provisioned it (SCIM): the SCIM resource it last wrote, its userName
 * (unique per directory, case-insensitively), externalId and version (the ETag). The user itself
 * is the same row every other door sees.
 */
export const directoryUsers = pgTable(
  "directory_users",
  {
    directoryId: uuid()
      .notNull()
      .references(() => directories.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    userName: text().notNull(),
    externalId: text(),
    active: boolean().notNull().default(true),
    resource: jsonb().$type<Record<string, unknown>>().notNull(),
    version: integer().notNull().default(1),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.directoryId, t.userId] }),
    uniqueIndex("directory_users_user_name_key").on(t.directoryId, sql`lower(${t.userName})`),
    index("directory_users_created_idx").on(t.directoryId, t.createdAt, t.userId),
    index("directory_users_user_idx").on(t.userId),
  ],
);

/** Each SCIM request: method, path, status, duration, and for writes the change (redacted). */
export const scimRequestLog = pgTable(
  "scim_request_log",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    directoryId: uuid()
      .notNull()
      .references(() => directories.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    method: text().notNull(),
    path: text().notNull(),
    status: integer().notNull(),
    durationMs: integer().notNull(),
    change: jsonb().$type<Record<string, unknown>>(),
  },
  (t) => [index("scim_request_log_directory_idx").on(t.directoryId, t.createdAt)],
);

// ---------------------------------------------------------------------------
// Access policy
// ---------------------------------------------------------------------------

export const resources = pgTable(
  "resources",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    feature: text({ enum: FEATURES }).notNull(),
    name: text().notNull(),
    description: text().notNull().default(""),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("resources_env_feature_name_lower_key").on(t.environmentId, t.feature, sql`lower(${t.name})`),
    check("resources_feature_check", oneOf(t.feature, FEATURES)),
    check("resources_name_not_blank", sql`length(btrim(${t.name})) > 0`),
  ],
);

export const accessGrants = pgTable(
  "access_grants",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    feature: text({ enum: FEATURES }).notNull(),
    // Null: the whole feature.
    resourceId: uuid().references(() => resources.id, { onDelete: "cascade" }),
    groupId: uuid().references(() => groups.id, { onDelete: "cascade" }),
    userId: uuid().references(() => users.id, { onDelete: "cascade" }),
    // One tool of an MCP server (MCP_TOOLS); null: the whole resource or feature.
    tool: text({ enum: MCP_TOOLS }),
    createdAt: createdAt(),
  },
  (t) => [
    unique("access_grants_unique_key").on(t.environmentId, t.feature, t.resourceId, t.groupId, t.userId, t.tool).nullsNotDistinct(),
    check("access_grants_tool_check", sql`${t.tool} is null or (${t.feature} = 'mcp' and ${t.resourceId} is not null and ${oneOf(t.tool, MCP_TOOLS)})`),
    index("access_grants_group_idx").on(t.groupId),
    index("access_grants_user_idx").on(t.userId),
    index("access_grants_resource_idx").on(t.resourceId),
    check("access_grants_feature_check", oneOf(t.feature, FEATURES)),
    check("access_grants_one_subject", sql`(${t.groupId} is null) <> (${t.userId} is null)`),
  ],
);

// Access requests: an end user asks for a resource (or one tool of an MCP server), from the MCP
// server's request_access tool; an admin of the environment approves (a direct grant) or denies.
export const accessRequests = pgTable(
  "access_requests",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    feature: text({ enum: FEATURES }).notNull(),
    resourceId: uuid()
      .notNull()
      .references(() => resources.id, { onDelete: "cascade" }),
    tool: text({ enum: MCP_TOOLS }),
    reason: text().notNull(),
    status: text({ enum: ACCESS_REQUEST_STATUSES }).notNull().default("pending"),
    decidedBy: text(),
    decidedAt: timestamp(tz),
    comment: text(),
    grantId: uuid().references(() => accessGrants.id, { onDelete: "set null" }),
    createdAt: createdAt(),
  },
  (t) => [
    // One open request per user, resource and tool: asking again returns it.
    uniqueIndex("access_requests_pending_key").on(t.userId, t.resourceId, sql`coalesce(${t.tool}, '')`).where(sql`${t.status} = 'pending'`),
    index("access_requests_environment_idx").on(t.environmentId, t.status, t.createdAt),
    check("access_requests_status_check", oneOf(t.status, ACCESS_REQUEST_STATUSES)),
    check("access_requests_feature_check", oneOf(t.feature, FEATURES)),
    check("access_requests_tool_check", sql`${t.tool} is null or (${t.feature} = 'mcp' and ${oneOf(t.tool, MCP_TOOLS)})`),
  ],
);

// ---------------------------------------------------------------------------
// Runtime signing keys
// ---------------------------------------------------------------------------

export const signingKeys = pgTable(
  "signing_keys",
  {
    kid: text().primaryKey(),
    algorithm: text({ enum: KEY_ALGORITHMS }).notNull(),
    state: text({ enum: KEY_STATES }).notNull(),
    publicJwk: jsonb().$type<Record<string, unknown>>().notNull(),
    // Encrypted at rest with a key derived from the app secret.
    privateKeyEncrypted: text().notNull(),
    createdAt: createdAt(),
    activatedAt: timestamp(tz),
    retiredAt: timestamp(tz),
    // Dropped from the JWKS after every token it signed has expired.
    publishUntil: timestamp(tz),
  },
  (t) => [
    uniqueIndex("signing_keys_one_active_key").on(t.state).where(sql`${t.state} = 'active'`),
    check("signing_keys_algorithm_check", oneOf(t.algorithm, KEY_ALGORITHMS)),
    check("signing_keys_state_check", oneOf(t.state, KEY_STATES)),
  ],
);

// ---------------------------------------------------------------------------
// Console members (who may use this console) and sessions
// ---------------------------------------------------------------------------

export const consoleMembers = pgTable(
  "console_members",
  {
    id: uuid().primaryKey().defaultRandom(),
    email: text().notNull(),
    name: text().notNull(),
    role: text({ enum: CONSOLE_ROLES }).notNull(),
    status: text({ enum: CONSOLE_MEMBER_STATUSES }).notNull().default("active"),
    // Null while invited: the invitation link sets it.
    passwordHash: text(),
    failedSignIns: integer().notNull().default(0),
    lockedUntil: timestamp(tz),
    lastSignInAt: timestamp(tz),
    // When the member last changed or reset their password: an address counts as theirs (exempt
    // from their lockout) only for sessions opened there since (lib/auth/console-sign-in.ts).
    passwordChangedAt: timestamp(tz),
    // Console SSO (lib/console-members/sso.ts): the IdP and subject this member signs in as. Their
    // role and scope then follow the IdP groups mapped in console_sso_mappings at each sign-in.
    ssoIdentityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    ssoSubject: text(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex("console_members_email_lower_key").on(sql`lower(${t.email})`),
    uniqueIndex("console_members_sso_key").on(t.ssoIdentityProviderId, t.ssoSubject),
    check("console_members_role_check", oneOf(t.role, CONSOLE_ROLES)),
    check("console_members_status_check", oneOf(t.status, CONSOLE_MEMBER_STATUSES)),
    // Only an invited member (who has not accepted yet) or one who arrived by SSO is without a password.
    check("console_members_password_check", sql`${t.status} = 'invited' or ${t.passwordHash} is not null or ${t.ssoSubject} is not null`),
  ],
);

/** The environments an environment admin may change. */
export const consoleMemberEnvironments = pgTable(
  "console_member_environments",
  {
    memberId: uuid()
      .notNull()
      .references(() => consoleMembers.id, { onDelete: "cascade" }),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.memberId, t.environmentId] })],
);

/** Server-side console sessions: the next-auth cookie only carries this row's id. */
export const consoleSessions = pgTable(
  "console_sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid()
      .notNull()
      .references(() => consoleMembers.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    lastSeenAt: timestamp(tz).notNull().defaultNow(),
    expiresAt: timestamp(tz).notNull(),
    revokedAt: timestamp(tz),
    ip: text(),
    userAgent: text(),
    // When the member last proved a second factor in this session (at sign-in, or again for a
    // sensitive action); null when they signed in with a password alone.
    secondFactorAt: timestamp(tz),
    // Password (and second factor), or console SSO through an IdP (which then vouches for the
    // second factor: its AuthnContextClassRef is kept).
    method: text({ enum: CONSOLE_SIGN_IN_METHODS }).notNull().default("password"),
    authnContext: text(),
  },
  (t) => [index("console_sessions_member_idx").on(t.memberId, t.createdAt), check("console_sessions_method_check", oneOf(t.method, CONSOLE_SIGN_IN_METHODS))],
);

/**
 * Second factors (lib/second-factor writes them), of a console member or of an end user (exactly one
 * owner). TOTP: the secret, sealed (the server computes codes from it), and the time step of the
 * last accepted code, so each code is used once. Passkey: the WebAuthn credential. A factor counts
 * once confirmed (a TOTP app by its first code, a passkey by its registration).
 */
export const secondFactors = pgTable(
  "second_factors",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid().references(() => consoleMembers.id, { onDelete: "cascade" }),
    userId: uuid().references(() => users.id, { onDelete: "cascade" }),
    kind: text({ enum: SECOND_FACTOR_KINDS }).notNull(),
    name: text().notNull(),
    secretSealed: text(),
    lastTimeStep: bigint({ mode: "number" }),
    credentialId: text(),
    publicKey: text(),
    signCount: bigint({ mode: "number" }),
    transports: text().array(),
    confirmedAt: timestamp(tz),
    lastUsedAt: timestamp(tz),
    createdAt: createdAt(),
  },
  (t) => [
    index("second_factors_member_idx").on(t.memberId),
    index("second_factors_user_idx").on(t.userId),
    uniqueIndex("second_factors_credential_key").on(t.credentialId),
    check("second_factors_owner_check", sql`num_nonnulls(${t.memberId}, ${t.userId}) = 1`),
    check("second_factors_kind_check", oneOf(t.kind, SECOND_FACTOR_KINDS)),
    check("second_factors_shape_check", sql`(${t.kind} = 'totp' and ${t.secretSealed} is not null) or (${t.kind} = 'passkey' and ${t.credentialId} is not null and ${t.publicKey} is not null)`),
  ],
);

/**
 * WebAuthn challenges (lib/second-factor/passkeys.ts writes them): one per ceremony, for five
 * minutes, deleted when an answer uses it, so each works once.
 */
export const webauthnChallenges = pgTable(
  "webauthn_challenges",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid().references(() => consoleMembers.id, { onDelete: "cascade" }),
    userId: uuid().references(() => users.id, { onDelete: "cascade" }),
    purpose: text({ enum: ["register", "authenticate"] }).notNull(),
    challenge: text().notNull(),
    expiresAt: timestamp(tz).notNull(),
    createdAt: createdAt(),
  },
  (t) => [
    index("webauthn_challenges_member_idx").on(t.memberId, t.purpose),
    index("webauthn_challenges_user_idx").on(t.userId, t.purpose),
    check("webauthn_challenges_owner_check", sql`num_nonnulls(${t.memberId}, ${t.userId}) = 1`),
    check("webauthn_challenges_purpose_check", sql`${t.purpose} in ('register', 'authenticate')`),
  ],
);

/** Ten single-use recovery codes per owner of second factors, as SHA-256 hashes (lib/second-factor/recovery-codes.ts). */
export const recoveryCodes = pgTable(
  "recovery_codes",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid().references(() => consoleMembers.id, { onDelete: "cascade" }),
    userId: uuid().references(() => users.id, { onDelete: "cascade" }),
    codeHash: text().notNull(),
    usedAt: timestamp(tz),
    createdAt: createdAt(),
  },
  (t) => [
    unique("recovery_codes_member_hash_key").on(t.memberId, t.codeHash),
    unique("recovery_codes_user_hash_key").on(t.userId, t.codeHash),
    check("recovery_codes_owner_check", sql`num_nonnulls(${t.memberId}, ${t.userId}) = 1`),
  ],
);

/** The console's own security settings: one row (id is always true). */
export const consoleSettings = pgTable(
  "console_settings",
  {
    id: boolean().primaryKey().default(true),
    // Members without a second factor are sent to enrol one at their next sign-in.
    requireSecondFactor: boolean().notNull().default(false),
    // Members may ask for a reset link from the sign-in page ("Forgot your password?"). Off, only an
    // owner's new invitation or another owner sets a forgotten password, and unused links stop working.
    selfServiceReset: boolean().notNull().default(true),
    updatedAt: updatedAt(),
  },
  (t) => [check("console_settings_one_row", sql`${t.id}`)],
);

/**
 * Console SSO (lib/console-sso writes it; one row): members may sign in to the console through one
 * of the connected IdPs. Owners keep a password (with a second factor) as the break-glass way in.
 */
export const consoleSso = pgTable(
  "console_sso",
  {
    id: boolean().primaryKey().default(true),
    enabled: boolean().notNull().default(false),
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    // "owners": only owners may still sign in with a password (and must have a second factor).
    passwordSignIn: text({ enum: CONSOLE_PASSWORD_SIGN_IN }).notNull().default("everyone"),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("console_sso_one_row", sql`${t.id}`),
    check("console_sso_password_check", oneOf(t.passwordSignIn, CONSOLE_PASSWORD_SIGN_IN)),
    check("console_sso_enabled_check", sql`not ${t.enabled} or ${t.identityProviderId} is not null`),
  ],
);

/** Console SSO: an IdP group value grants a console role (environment admins: with their environments). No mapping, no access. */
export const consoleSsoMappings = pgTable(
  "console_sso_mappings",
  {
    id: uuid().primaryKey().defaultRandom(),
    idpValue: text().notNull(),
    role: text({ enum: CONSOLE_SSO_ROLES }).notNull(),
    environmentIds: uuid().array().notNull().default(sql`'{}'::uuid[]`),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("console_sso_mappings_value_key").on(t.idpValue), check("console_sso_mappings_role_check", oneOf(t.role, CONSOLE_SSO_ROLES))],
);

/**
 * Invitations to the console: a one-time link (only its SHA-256 is kept) that sets an invited
 * member's password. A new invitation for the member voids the earlier unused one.
 */
export const consoleInvitations = pgTable(
  "console_invitations",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid()
      .notNull()
      .references(() => consoleMembers.id, { onDelete: "cascade" }),
    tokenHash: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp(tz).notNull(),
    usedAt: timestamp(tz),
  },
  (t) => [uniqueIndex("console_invitations_hash_key").on(t.tokenHash), index("console_invitations_member_idx").on(t.memberId)],
);

/**
 * A console member's password reset links (lib/console-members writes them): the hash of a
 * one-hour, one-use link mailed to an active member who signs in with a password, asked for by the
 * member ("forgot password") or sent by an owner. Earlier unused links stay usable until one is
 * used, which voids the rest; using one sets the password and ends the member's sessions.
 */
export const consolePasswordResets = pgTable(
  "console_password_resets",
  {
    id: uuid().primaryKey().defaultRandom(),
    memberId: uuid()
      .notNull()
      .references(() => consoleMembers.id, { onDelete: "cascade" }),
    tokenHash: text().notNull(),
    // Sent by an owner (Settings → Members): usable while the console's self-service reset is off.
    sentByOwner: boolean().notNull().default(false),
    createdAt: createdAt(),
    expiresAt: timestamp(tz).notNull(),
    usedAt: timestamp(tz),
  },
  (t) => [uniqueIndex("console_password_resets_hash_key").on(t.tokenHash), index("console_password_resets_member_idx").on(t.memberId)],
);

/** End-user sessions, one per (user, environment) sign-in; revocable server-side. */
export const sessions = pgTable(
  "sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    // SHA-256 of the cookie value; the cookie itself is never stored.
    tokenHash: text().notNull(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    method: text({ enum: SIGN_IN_METHODS }).notNull(),
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    lastSeenAt: timestamp(tz).notNull().defaultNow(),
    expiresAt: timestamp(tz).notNull(),
    revokedAt: timestamp(tz),
    ip: text(),
    userAgent: text(),
    // How the second step was proven: a password sign-in's second factor ("totp", "recovery_code",
    // "passkey"), or the authentication context an IdP asserted for an SSO sign-in.
    secondFactor: text(),
    authnContext: text(),
  },
  (t) => [
    uniqueIndex("sessions_token_hash_key").on(t.tokenHash),
    index("sessions_user_env_idx").on(t.userId, t.environmentId),
    check("sessions_method_check", oneOf(t.method, SIGN_IN_METHODS)),
  ],
);

// ---------------------------------------------------------------------------
// Sign-in state shared by every app instance: pending SAML requests, the assertion replay
// cache, SSO traces, one-time password links and the mail outbox
// ---------------------------------------------------------------------------

/** An SP-initiated sign-in waiting for the IdP's answer; consumed once by the ACS. */
export const ssoRequests = pgTable(
  "sso_requests",
  {
    id: uuid().primaryKey().defaultRandom(),
    // Jackson's RelayState for this request; the IdP posts it back with the response.
    relayState: text().notNull(),
    // The AuthnRequest ID: the response's InResponseTo must equal it.
    requestId: text().notNull(),
    identityProviderId: uuid()
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    // Null for a console sign-in (purpose "console").
    environmentId: uuid().references(() => environments.id, { onDelete: "cascade" }),
    purpose: text({ enum: SSO_REQUEST_PURPOSES }).notNull().default("environment"),
    returnTo: text().notNull(),
    loginHint: text(),
    // SHA-256 of the random value in the browser's SSO binding cookie (lib/sso/browser-binding.ts):
    // the ACS accepts a response for this request only from the browser that started it.
    bindingHash: text().notNull(),
    // OpenID Connect: the PKCE code_verifier, sealed (requestId then holds the nonce, relayState the state).
    codeVerifier: text(),
    createdAt: createdAt(),
    expiresAt: timestamp(tz).notNull(),
    // Set only when a response passed every check (in the transaction that signs the user in).
    consumedAt: timestamp(tz),
  },
  (t) => [
    uniqueIndex("sso_requests_relay_state_key").on(t.relayState),
    index("sso_requests_expires_idx").on(t.expiresAt),
    check("sso_requests_purpose_check", sql`(${t.purpose} = 'console') = (${t.environmentId} is null) and ${t.purpose} in ('environment', 'console')`),
  ],
);

/**
 * An environment's branded end-user pages (lib/branding writes it): the name and logo shown, the
 * colours (checked against WCAG AA when saved), a message on the sign-in page and a support link.
 * No row: the product's defaults.
 */
export const environmentBranding = pgTable(
  "environment_branding",
  {
    environmentId: uuid()
      .primaryKey()
      .references(() => environments.id, { onDelete: "cascade" }),
    displayName: text().notNull().default(""),
    primaryColor: text().notNull().default("#1f57cc"),
    backgroundColor: text().notNull().default("#f8fafc"),
    message: text().notNull().default(""),
    supportUrl: text(),
    // A PNG, or an SVG as sanitised when uploaded; the version changes with each upload (cache key).
    logo: bytea(),
    logoType: text(),
    logoVersion: integer().notNull().default(0),
    updatedAt: updatedAt(),
  },
  (t) => [
    check("environment_branding_logo_type_check", sql`${t.logoType} is null or ${t.logoType} in ('image/png', 'image/svg+xml')`),
    check("environment_branding_colors_check", sql`${t.primaryColor} ~ '^#[0-9a-f]{6}$' and ${t.backgroundColor} ~ '^#[0-9a-f]{6}$'`),
  ],
);

/**
 * The OAuth authorization server's records (lib/oauth/adapter.ts, for panva's oidc-provider):
 * clients, grants, codes, access and refresh tokens, interactions and sessions, one environment's
 * each, as the library's payloads (JSON), with what it looks them up by.
 */
export const oauthRecords = pgTable(
  "oauth_records",
  {
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    model: text().notNull(),
    id: text().notNull(),
    payload: jsonb().$type<Record<string, unknown>>().notNull(),
    grantId: text(),
    uid: text(),
    userCode: text(),
    expiresAt: timestamp(tz),
    consumedAt: timestamp(tz),
    createdAt: createdAt(),
  },
  (t) => [
    primaryKey({ columns: [t.environmentId, t.model, t.id] }),
    index("oauth_records_grant_idx").on(t.environmentId, t.grantId),
    index("oauth_records_uid_idx").on(t.environmentId, t.uid),
    index("oauth_records_expires_idx").on(t.expiresAt),
  ],
);

/**
 * An end user's consent that an OAuth client (an MCP client) may use one MCP server as them
 * (lib/oauth/consents.ts): remembered per client and server until the user or an admin revokes it.
 * Its grant's tokens carry a session of their own (`sessionId`), so signing out everywhere, losing
 * access or a revocation ends them like any session.
 */
export const oauthConsents = pgTable(
  "oauth_consents",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    clientId: text().notNull(),
    clientName: text().notNull(),
    resourceId: uuid()
      .notNull()
      .references(() => resources.id, { onDelete: "cascade" }),
    grantId: text().notNull(),
    sessionId: uuid()
      .notNull()
      .references(() => sessions.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    revokedAt: timestamp(tz),
  },
  (t) => [
    index("oauth_consents_user_idx").on(t.userId, t.environmentId),
    uniqueIndex("oauth_consents_grant_key").on(t.environmentId, t.grantId),
  ],
);

/** Assertion IDs already used, kept until the assertion expires: a replay fails on any instance. */
export const samlAssertionIds = pgTable(
  "saml_assertion_ids",
  {
    identityProviderId: uuid()
      .notNull()
      .references(() => identityProviders.id, { onDelete: "cascade" }),
    assertionId: text().notNull(),
    expiresAt: timestamp(tz).notNull(),
  },
  (t) => [primaryKey({ columns: [t.identityProviderId, t.assertionId] }), index("saml_assertion_ids_expires_idx").on(t.expiresAt)],
);

export const SSO_TRACE_OUTCOMES = ["success", "failure"] as const;

/** The last sign-in attempts per IdP, for the console: what was checked, asserted and done. */
export const ssoTraces = pgTable(
  "sso_traces",
  {
    id: uuid().primaryKey().defaultRandom(),
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "cascade" }),
    environmentId: uuid().references(() => environments.id, { onDelete: "cascade" }),
    createdAt: createdAt(),
    flow: text().notNull(),
    outcome: text({ enum: SSO_TRACE_OUTCOMES }).notNull(),
    // The check that failed (a stable code) and the reason in plain words.
    failedCheck: text(),
    reason: text(),
    issuer: text(),
    subject: text(),
    attributes: jsonb().$type<Record<string, string[]>>(),
    groups: text().array(),
    // What sign-in did (or would have done): user created or matched, access, groups added and removed.
    result: jsonb().$type<Record<string, unknown>>(),
    userId: uuid().references(() => users.id, { onDelete: "set null" }),
    ip: text(),
  },
  (t) => [
    index("sso_traces_idp_created_idx").on(t.identityProviderId, t.createdAt),
    check("sso_traces_outcome_check", oneOf(t.outcome, SSO_TRACE_OUTCOMES)),
  ],
);

export const PASSWORD_TOKEN_PURPOSES = ["invite", "reset", "unlock"] as const;

/** One-time links (invitation, password reset, unlock); only a hash of the link's secret is kept. */
export const passwordTokens = pgTable(
  "password_tokens",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    purpose: text({ enum: PASSWORD_TOKEN_PURPOSES }).notNull(),
    tokenHash: text().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp(tz).notNull(),
    usedAt: timestamp(tz),
  },
  (t) => [
    uniqueIndex("password_tokens_hash_key").on(t.tokenHash),
    index("password_tokens_user_idx").on(t.userId, t.purpose),
    check("password_tokens_purpose_check", oneOf(t.purpose, PASSWORD_TOKEN_PURPOSES)),
  ],
);

/** Mail sent (through SMTP) or, without SMTP_URL, kept here for the console's outbox. */
export const emailOutbox = pgTable(
  "email_outbox",
  {
    id: uuid().primaryKey().defaultRandom(),
    to: text().notNull(),
    // The user the message is for (its links act on that user), whatever address they have later.
    userId: uuid().references(() => users.id, { onDelete: "set null" }),
    // The console member a console invitation is for: only who may manage that member reads it.
    consoleMemberId: uuid().references(() => consoleMembers.id, { onDelete: "set null" }),
    // Shown to owners only (a console member's password reset link kept here without SMTP: no one
    // may set another member's password, so only those who may already do everything read it).
    ownersOnly: boolean().notNull().default(false),
    subject: text().notNull(),
    body: text().notNull(),
    transport: text().notNull(),
    createdAt: createdAt(),
    sentAt: timestamp(tz),
    error: text(),
  },
  (t) => [index("email_outbox_created_idx").on(t.createdAt)],
);

// ---------------------------------------------------------------------------
// Admin REST API tokens and rate limits
// ---------------------------------------------------------------------------

// authz: a component asking the decision endpoint, nothing else.
export const API_TOKEN_SCOPES = ["read", "write", "authz", "reviewer"] as const;

export const apiTokens = pgTable(
  "api_tokens",
  {
    id: uuid().primaryKey().defaultRandom(),
    name: text().notNull(),
    // SHA-256 of the token; the token itself is shown once.
    tokenHash: text().notNull(),
    tokenHint: text().notNull(),
    scope: text({ enum: API_TOKEN_SCOPES }).notNull(),
    // Null: every environment; otherwise the environments this token may touch.
    environmentIds: uuid().array(),
    createdBy: uuid().references(() => consoleMembers.id, { onDelete: "set null" }),
    createdAt: createdAt(),
    lastUsedAt: timestamp(tz),
    expiresAt: timestamp(tz),
    revokedAt: timestamp(tz),
  },
  (t) => [
    uniqueIndex("api_tokens_token_hash_key").on(t.tokenHash),
    check("api_tokens_scope_check", oneOf(t.scope, API_TOKEN_SCOPES)),
  ],
);

/**
 * `Idempotency-Key` of REST POSTs, per API token: the request's fingerprint and, once answered, the
 * response (sealed: it may hold a secret shown once, like a directory's token), replayed for the same
 * key and body for 24 hours. A row without a status is a request still running.
 */
export const apiIdempotencyKeys = pgTable(
  "api_idempotency_keys",
  {
    tokenId: uuid()
      .notNull()
      .references(() => apiTokens.id, { onDelete: "cascade" }),
    key: text().notNull(),
    method: text().notNull(),
    path: text().notNull(),
    bodySha256: text().notNull(),
    status: integer(),
    responseSealed: text(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.tokenId, t.key] }), index("api_idempotency_keys_created_idx").on(t.createdAt)],
);

/** Fixed-window counters shared by every app instance (per API token, per directory, per IP…). */
export const rateLimits = pgTable("rate_limits", {
  key: text().primaryKey(),
  windowStart: timestamp(tz).notNull(),
  count: integer().notNull(),
});

// ---------------------------------------------------------------------------
// Background jobs (CSV import, bulk actions on "all matching"), claimed by any app instance
// ---------------------------------------------------------------------------

export const JOB_KINDS = ["import_dry_run", "import_apply", "bulk_users", "access_review_upkeep"] as const;
export const JOB_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"] as const;

export const jobs = pgTable(
  "jobs",
  {
    id: uuid().primaryKey().defaultRandom(),
    kind: text({ enum: JOB_KINDS }).notNull(),
    status: text({ enum: JOB_STATUSES }).notNull().default("queued"),
    environmentId: uuid().references(() => environments.id, { onDelete: "cascade" }),
    // Who asked (the actor the job acts as) and what for.
    actor: jsonb().$type<Record<string, unknown>>().notNull(),
    params: jsonb().$type<Record<string, unknown>>().notNull().default({}),
    // Units done (rows, users); committed with the work they describe, so a restart resumes there.
    progress: integer().notNull().default(0),
    total: integer(),
    summary: jsonb().$type<Record<string, unknown>>(),
    error: text(),
    // A stop asked for while the job runs ("Cancelled by …"): the worker stops before its next
    // batch (then the status is cancelled), or the job ends as it would have if its last batch had run.
    cancelRequested: text(),
    attempts: integer().notNull().default(0),
    createdAt: createdAt(),
    startedAt: timestamp(tz),
    heartbeatAt: timestamp(tz),
    finishedAt: timestamp(tz),
  },
  (t) => [
    index("jobs_status_created_idx").on(t.status, t.createdAt),
    check("jobs_kind_check", oneOf(t.kind, JOB_KINDS)),
    check("jobs_status_check", oneOf(t.status, JOB_STATUSES)),
  ],
);

/** Per-unit outcomes of a job (an import row, a user of a bulk action): the downloadable report. */
export const jobItems = pgTable(
  "job_items",
  {
    jobId: uuid()
      .notNull()
      .references(() => jobs.id, { onDelete: "cascade" }),
    seq: integer().notNull(),
    key: text(),
    outcome: text().notNull(),
    detail: text(),
  },
  (t) => [
    primaryKey({ columns: [t.jobId, t.seq] }),
    index("job_items_outcome_idx").on(t.jobId, t.outcome, t.seq),
    index("job_items_key_idx").on(t.jobId, t.key),
  ],
);

/** Uploaded files, in 1 MiB chunks, so any instance can read them and none holds them in memory. */
export const uploads = pgTable("uploads", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull(),
  bytes: bigint({ mode: "number" }).notNull().default(0),
  createdBy: text(),
  createdAt: createdAt(),
});

export const uploadChunks = pgTable(
  "upload_chunks",
  {
    uploadId: uuid()
      .notNull()
      .references(() => uploads.id, { onDelete: "cascade" }),
    seq: integer().notNull(),
    data: bytea().notNull(),
  },
  (t) => [primaryKey({ columns: [t.uploadId, t.seq] })],
);

// ---------------------------------------------------------------------------
// Audit trail (append-only)
// ---------------------------------------------------------------------------

export const auditEvents = pgTable(
  "audit_events",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    occurredAt: timestamp(tz).notNull().defaultNow(),
    actorType: text({ enum: ACTOR_TYPES }).notNull(),
    actorId: text(),
    actorLabel: text().notNull(),
    action: text().notNull(),
    targetType: text().notNull(),
    targetId: text(),
    targetLabel: text(),
    // No foreign key: the trail outlives the environment; the key is kept for reading.
    environmentId: uuid(),
    environmentKey: text(),
    outcome: text({ enum: AUDIT_OUTCOMES }).notNull().default("success"),
    reason: text(),
    before: jsonb(),
    after: jsonb(),
    requestId: text(),
    ip: text(),
    // The hash chain, assigned by the sealer in commit order (lib/audit/chain.ts): position,
    // the previous row's hash, and sha256(previous hash + this row's content).
    seq: bigint({ mode: "number" }),
    prevHash: text(),
    hash: text(),
  },
  (t) => [
    uniqueIndex("audit_events_seq_key").on(t.seq),
    index("audit_events_unsealed_idx").on(t.id).where(sql`${t.seq} is null`),
    index("audit_events_occurred_idx").on(t.occurredAt, t.id),
    index("audit_events_target_idx").on(t.targetType, t.targetId, t.id),
    index("audit_events_actor_idx").on(t.actorType, t.actorId, t.id),
    index("audit_events_env_idx").on(t.environmentId, t.id),
    index("audit_events_action_idx").on(t.action, t.id),
    // Membership changes list their users in after.added / after.removed: a user's history finds them here.
    index("audit_events_after_idx").using("gin", sql`${t.after} jsonb_path_ops`),
    check("audit_events_actor_type_check", oneOf(t.actorType, ACTOR_TYPES)),
    check("audit_events_outcome_check", oneOf(t.outcome, AUDIT_OUTCOMES)),
  ],
);

/** Where the chain starts after a retention prune: the hash of the last pruned row, audited. */
export const auditAnchors = pgTable("audit_anchors", {
  id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
  // The first kept row's seq and the prev_hash it must carry.
  seq: bigint({ mode: "number" }).notNull(),
  hash: text().notNull(),
  prunedRows: bigint({ mode: "number" }).notNull(),
  cutoff: timestamp(tz).notNull(),
  createdAt: createdAt(),
});

// How the audit chain prints a time (its hashes cover the text): the time zone its rows have been
// printed in since the first seal, taken from the database's default by migration 0047 and kept as
// data, so a backup restored onto a server with another default carries it along. One row, written
// only by migrations; read by audit_time_text().
export const auditChainSettings = pgTable(
  "audit_chain_settings",
  {
    id: boolean().primaryKey().default(true),
    timeZone: text().notNull(),
  },
  (t) => [check("audit_chain_settings_one_row", sql`${t.id}`)],
);

// The membership ledger: every membership, environment access and grant that appears or goes,
// written by database triggers (migration 0019) whatever the door, cascades included, so "who was
// in this group on 1 March" is rebuilt from it. Names are copied at the time. Append-only.
export const membershipLedger = pgTable(
  "membership_ledger",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    at: timestamp(tz).notNull().defaultNow(),
    kind: text({ enum: LEDGER_KINDS }).notNull(),
    op: text({ enum: ["add", "remove"] }).notNull(),
    environmentId: uuid().notNull(),
    userId: uuid(),
    groupId: uuid(),
    grantId: uuid(),
    feature: text(),
    resourceId: uuid(),
    source: text(),
    userEmail: text(),
    userName: text(),
    groupName: text(),
    resourceName: text(),
  },
  (t) => [
    index("membership_ledger_group_idx").on(t.groupId, t.id),
    index("membership_ledger_user_idx").on(t.userId, t.id),
    index("membership_ledger_grant_idx").on(t.grantId, t.id),
    check("membership_ledger_kind_check", oneOf(t.kind, LEDGER_KINDS)),
  ],
);

// Access reviews (certification campaigns).
export const accessReviews = pgTable(
  "access_reviews",
  {
    id: uuid().primaryKey().defaultRandom(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    name: text().notNull(),
    scope: text({ enum: REVIEW_SCOPES }).notNull(),
    // The groups or resources under review (ids, as chosen).
    scopeIds: uuid().array().notNull(),
    dueAt: timestamp(tz).notNull(),
    status: text({ enum: REVIEW_STATUSES }).notNull().default("open"),
    createdBy: text().notNull(),
    createdAt: createdAt(),
    closedAt: timestamp(tz),
    closedBy: text(),
    // The signed-off report kept at closing, and its sha256 (also in the closing audit event).
    reportCsv: text(),
    reportSha256: text(),
    // A recurring campaign: every N months the next one is created from this one's definition
    // (environment, scope, reviewers, name), by the upkeep job. null: once.
    recurrenceMonths: integer(),
    // The campaign this one was created from (null for the first of a series), and the one created
    // from it (set once, so the job creating it is idempotent).
    previousId: uuid().references((): AnyPgColumn => accessReviews.id, { onDelete: "set null" }),
    nextId: uuid().references((): AnyPgColumn => accessReviews.id, { onDelete: "set null" }),
    // When the reviewers were reminded (3 days before the due date, and on the day): once each.
    remindedSoonAt: timestamp(tz),
    remindedDueAt: timestamp(tz),
  },
  (t) => [
    index("access_reviews_env_idx").on(t.environmentId, t.createdAt),
    // The upkeep job's scan: open campaigns by due date.
    index("access_reviews_open_due_idx").on(t.dueAt).where(sql`${t.status} = 'open'`),
    uniqueIndex("access_reviews_next_key").on(t.nextId),
    check("access_reviews_scope_check", oneOf(t.scope, REVIEW_SCOPES)),
    check("access_reviews_status_check", oneOf(t.status, REVIEW_STATUSES)),
    check("access_reviews_recurrence_check", sql`${t.recurrenceMonths} is null or ${t.recurrenceMonths} between 1 and 12`),
  ],
);

export const accessReviewReviewers = pgTable(
  "access_review_reviewers",
  {
    reviewId: uuid()
      .notNull()
      .references(() => accessReviews.id, { onDelete: "cascade" }),
    memberId: uuid()
      .notNull()
      .references(() => consoleMembers.id, { onDelete: "cascade" }),
  },
  (t) => [primaryKey({ columns: [t.reviewId, t.memberId] }), index("access_review_reviewers_member_idx").on(t.memberId)],
);

export const accessReviewItems = pgTable(
  "access_review_items",
  {
    id: uuid().primaryKey().defaultRandom(),
    reviewId: uuid()
      .notNull()
      .references(() => accessReviews.id, { onDelete: "cascade" }),
    kind: text({ enum: REVIEW_ITEM_KINDS }).notNull(),
    // No foreign keys: the item outlives what it reviewed (a revoked membership, a deleted group).
    userId: uuid(),
    groupId: uuid(),
    grantId: uuid(),
    feature: text(),
    resourceId: uuid(),
    userEmail: text(),
    userName: text(),
    groupName: text(),
    resourceName: text(),
    decision: text({ enum: REVIEW_DECISIONS }),
    comment: text(),
    decidedBy: text(),
    decidedAt: timestamp(tz),
    // At closing: what applying the decision did ("revoked", "already gone", or the error).
    outcome: text(),
  },
  (t) => [
    index("access_review_items_review_idx").on(t.reviewId, t.groupName, t.userEmail),
    check("access_review_items_kind_check", oneOf(t.kind, REVIEW_ITEM_KINDS)),
    check("access_review_items_decision_check", sql`${t.decision} is null or ${t.decision} in ('keep', 'revoke')`),
  ],
);

/**
 * A membership (or environment access) that a directory or an IdP owned and a review revoked: its
 * syncs (SCIM PUT/PATCH of the group, SAML sign-in group sync, JIT access) leave it out while the
 * exclusion stands. An admin lifts it (lifted_at/by); the row stays as the record.
 */
export const membershipExclusions = pgTable(
  "membership_exclusions",
  {
    id: uuid().primaryKey().defaultRandom(),
    kind: text({ enum: EXCLUSION_KINDS }).notNull(),
    environmentId: uuid()
      .notNull()
      .references(() => environments.id, { onDelete: "cascade" }),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    // The group, for a membership; null for environment access.
    groupId: uuid().references(() => groups.id, { onDelete: "cascade" }),
    // Who owned what was revoked: a directory (scim) or an IdP (saml group sync, jit access).
    source: text({ enum: EXCLUSION_SOURCES }).notNull(),
    directoryId: uuid().references(() => directories.id, { onDelete: "set null" }),
    identityProviderId: uuid().references(() => identityProviders.id, { onDelete: "set null" }),
    reason: text().notNull(),
    reviewId: uuid().references(() => accessReviews.id, { onDelete: "set null" }),
    reviewItemId: uuid(),
    createdBy: text().notNull(),
    createdAt: createdAt(),
    liftedAt: timestamp(tz),
    liftedBy: text(),
  },
  (t) => [
    // One standing exclusion per membership, and per environment access.
    uniqueIndex("membership_exclusions_member_key").on(t.userId, t.groupId).where(sql`${t.liftedAt} is null and ${t.kind} = 'member'`),
    uniqueIndex("membership_exclusions_access_key").on(t.userId, t.environmentId).where(sql`${t.liftedAt} is null and ${t.kind} = 'access'`),
    index("membership_exclusions_group_idx").on(t.groupId),
    index("membership_exclusions_user_idx").on(t.userId, t.createdAt),
    check("membership_exclusions_kind_check", oneOf(t.kind, EXCLUSION_KINDS)),
    check("membership_exclusions_source_check", oneOf(t.source, EXCLUSION_SOURCES)),
    check("membership_exclusions_group_check", sql`(${t.kind} = 'member') = (${t.groupId} is not null)`),
  ],
);

// Signed webhooks: audit events delivered to subscribers from a transactional outbox. The sealer
// writes a delivery row for each matching endpoint in the transaction that seals the event; a
// worker posts them (Standard Webhooks signatures), retrying with backoff, dead after the last try.
export const webhookEndpoints = pgTable("webhook_endpoints", {
  id: uuid().primaryKey().defaultRandom(),
  name: text().notNull(),
  url: text().notNull(),
  // Action prefixes to send (e.g. "user.", "group.members"); empty: every event.
  actions: text().array().notNull().default(sql`'{}'`),
  // The signing secret (whsec_…), sealed (lib/crypto/sealed.ts).
  secretSealed: text().notNull(),
  enabled: boolean().notNull().default(true),
  createdAt: createdAt(),
});

export const WEBHOOK_DELIVERY_STATUSES = ["pending", "delivered", "dead"] as const;

export const webhookDeliveries = pgTable(
  "webhook_deliveries",
  {
    id: bigint({ mode: "number" }).primaryKey().generatedAlwaysAsIdentity(),
    endpointId: uuid()
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: "cascade" }),
    // The audit event (no foreign key: retention may prune the event; the delivery then says so).
    auditId: bigint({ mode: "number" }).notNull(),
    status: text({ enum: WEBHOOK_DELIVERY_STATUSES }).notNull().default("pending"),
    attempts: integer().notNull().default(0),
    nextAttemptAt: timestamp(tz).notNull().defaultNow(),
    lastStatus: integer(),
    lastError: text(),
    deliveredAt: timestamp(tz),
    createdAt: createdAt(),
  },
  (t) => [
    index("webhook_deliveries_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    index("webhook_deliveries_endpoint_idx").on(t.endpointId, t.status, t.id),
    check("webhook_deliveries_status_check", oneOf(t.status, WEBHOOK_DELIVERY_STATUSES)),
  ],
);

// ---------------------------------------------------------------------------
// Relations
// ---------------------------------------------------------------------------

export const environmentsRelations = relations(environments, ({ one, many }) => ({
  auth: one(environmentAuth, { fields: [environments.id], references: [environmentAuth.environmentId] }),
  groups: many(groups),
  access: many(environmentAccess),
  resources: many(resources),
}));

export const usersRelations = relations(users, ({ many }) => ({
  access: many(environmentAccess),
  memberships: many(groupMembers),
  identities: many(userIdentities),
}));

export const environmentAccessRelations = relations(environmentAccess, ({ one }) => ({
  user: one(users, { fields: [environmentAccess.userId], references: [users.id] }),
  environment: one(environments, { fields: [environmentAccess.environmentId], references: [environments.id] }),
}));

export const groupsRelations = relations(groups, ({ one, many }) => ({
  environment: one(environments, { fields: [groups.environmentId], references: [environments.id] }),
  members: many(groupMembers),
}));

export const groupMembersRelations = relations(groupMembers, ({ one }) => ({
  group: one(groups, { fields: [groupMembers.groupId], references: [groups.id] }),
  user: one(users, { fields: [groupMembers.userId], references: [users.id] }),
}));

export const userIdentitiesRelations = relations(userIdentities, ({ one }) => ({
  user: one(users, { fields: [userIdentities.userId], references: [users.id] }),
  identityProvider: one(identityProviders, {
    fields: [userIdentities.identityProviderId],
    references: [identityProviders.id],
  }),
}));

export const environmentAuthRelations = relations(environmentAuth, ({ one }) => ({
  environment: one(environments, { fields: [environmentAuth.environmentId], references: [environments.id] }),
  identityProvider: one(identityProviders, {
    fields: [environmentAuth.identityProviderId],
    references: [identityProviders.id],
  }),
}));

export const resourcesRelations = relations(resources, ({ one, many }) => ({
  environment: one(environments, { fields: [resources.environmentId], references: [environments.id] }),
  grants: many(accessGrants),
}));

export const accessGrantsRelations = relations(accessGrants, ({ one }) => ({
  resource: one(resources, { fields: [accessGrants.resourceId], references: [resources.id] }),
  group: one(groups, { fields: [accessGrants.groupId], references: [groups.id] }),
  user: one(users, { fields: [accessGrants.userId], references: [users.id] }),
}));

export const consoleMembersRelations = relations(consoleMembers, ({ many }) => ({
  environments: many(consoleMemberEnvironments),
  sessions: many(consoleSessions),
  invitations: many(consoleInvitations),
}));

export const consoleInvitationsRelations = relations(consoleInvitations, ({ one }) => ({
  member: one(consoleMembers, { fields: [consoleInvitations.memberId], references: [consoleMembers.id] }),
}));

export const consoleMemberEnvironmentsRelations = relations(consoleMemberEnvironments, ({ one }) => ({
  member: one(consoleMembers, { fields: [consoleMemberEnvironments.memberId], references: [consoleMembers.id] }),
  environment: one(environments, {
    fields: [consoleMemberEnvironments.environmentId],
    references: [environments.id],
  }),
}));

export type Environment = typeof environments.$inferSelect;
export type User = typeof users.$inferSelect;
export type NewUser = typeof users.$inferInsert;
export type Group = typeof groups.$inferSelect;
export type GroupMember = typeof groupMembers.$inferSelect;
export type EnvironmentAuth = typeof environmentAuth.$inferSelect;
export type IdentityProvider = typeof identityProviders.$inferSelect;
export type Directory = typeof directories.$inferSelect;
export type Resource = typeof resources.$inferSelect;
export type AccessGrant = typeof accessGrants.$inferSelect;
export type SigningKey = typeof signingKeys.$inferSelect;
export type SsoTrace = typeof ssoTraces.$inferSelect;
export type DirectoryUser = typeof directoryUsers.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type ConsoleMember = typeof consoleMembers.$inferSelect;
export type AuditEvent = typeof auditEvents.$inferSelect;
export type ApiToken = typeof apiTokens.$inferSelect;
export type Job = typeof jobs.$inferSelect;
export type NewAuditEvent = typeof auditEvents.$inferInsert;
