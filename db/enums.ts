// Value lists shared by the schema (check constraints), zod validation and the UI.
// Plain `as const` tuples so client components can import them without pulling in the database.

export const USER_STATUSES = ["invited", "active", "suspended", "deprovisioned"] as const;
export type UserStatus = (typeof USER_STATUSES)[number];

// Who proved a user's email: a link mailed to it (invitation or reset), or a directory or IdP of one environment.
export const EMAIL_VERIFIERS = ["link", "directory", "identity_provider"] as const;
export type EmailVerifier = (typeof EMAIL_VERIFIERS)[number];

export const USER_SOURCES = ["manual", "jit", "scim", "import"] as const;
export type UserSource = (typeof USER_SOURCES)[number];

export const ACCESS_SOURCES = ["manual", "jit", "scim", "import"] as const;
export type AccessSource = (typeof ACCESS_SOURCES)[number];

export const GROUP_SOURCES = ["manual", "scim", "saml", "system"] as const;
export type GroupSource = (typeof GROUP_SOURCES)[number];

// `system` is the automatic Everyone membership; a sync only touches the source it owns.
export const MEMBERSHIP_SOURCES = ["manual", "scim", "saml", "system"] as const;
export type MembershipSource = (typeof MEMBERSHIP_SOURCES)[number];

export const FEATURES = ["agent_studio", "workato_go", "mcp"] as const;
export type Feature = (typeof FEATURES)[number];
// The tools every MCP server of the platform serves (lib/doors/components/mcp.ts); a grant on an MCP
// server may name one of them (access_grants.tool), else it covers them all.
export const MCP_TOOLS = ["whoami", "my_groups", "my_access", "request_access"] as const;
export type McpTool = (typeof MCP_TOOLS)[number];
export const MCP_TOOL_LABELS: Record<McpTool, string> = {
  whoami: "Who am I",
  my_groups: "My groups",
  my_access: "What I may use, and why",
  request_access: "Request access",
};

export const ACCESS_REQUEST_STATUSES = ["pending", "approved", "denied"] as const;
export type AccessRequestStatus = (typeof ACCESS_REQUEST_STATUSES)[number];

export const FEATURE_LABELS: Record<Feature, string> = {
  agent_studio: "Agent Studio",
  workato_go: "Workato GO",
  mcp: "MCP servers",
};

export const CONSOLE_ROLES = ["owner", "admin", "environment_admin", "reviewer"] as const;
export type ConsoleRole = (typeof CONSOLE_ROLES)[number];
export const CONSOLE_ROLE_LABELS: Record<ConsoleRole, string> = {
  owner: "Owner",
  admin: "Admin",
  environment_admin: "Environment admin",
  reviewer: "Reviewer",
};

// `invited`: added by an owner or admin, no password yet; the invitation link (console_invitations) sets it.
export const CONSOLE_MEMBER_STATUSES = ["invited", "active", "suspended"] as const;
/** The roles an IdP group may grant through console SSO: owners are invited, never granted by an IdP. */
export const CONSOLE_SSO_ROLES = ["admin", "environment_admin", "reviewer"] as const;
export type ConsoleSsoRole = (typeof CONSOLE_SSO_ROLES)[number];
/** Who keeps password sign-in once console SSO is on: everyone, or owners only (break-glass, with a second factor). */
export const CONSOLE_PASSWORD_SIGN_IN = ["everyone", "owners"] as const;
export const CONSOLE_SIGN_IN_METHODS = ["password", "sso"] as const;
export const SSO_REQUEST_PURPOSES = ["environment", "console"] as const;
export type ConsoleMemberStatus = (typeof CONSOLE_MEMBER_STATUSES)[number];

/** A console member's second factors: an authenticator app (TOTP) or a passkey (WebAuthn). */
export const SECOND_FACTOR_KINDS = ["totp", "passkey"] as const;
export type SecondFactorKind = (typeof SECOND_FACTOR_KINDS)[number];

/** Per environment, second factors on end users' password sign-in: not used, for those who enrol one, or for everyone. */
export const SECOND_FACTOR_POLICIES = ["off", "optional", "required"] as const;
export type SecondFactorPolicy = (typeof SECOND_FACTOR_POLICIES)[number];

export const SSO_ENFORCEMENTS = ["all", "domains", "optional"] as const;
export type SsoEnforcement = (typeof SSO_ENFORCEMENTS)[number];

export const IDP_PRESETS = ["okta", "entra", "onelogin", "generic"] as const;
/** How an IdP federates: SAML 2.0 (through Jackson) or OpenID Connect (through openid-client). */
export const IDP_PROTOCOLS = ["saml", "oidc"] as const;
/** How our client authenticates at an OpenID Connect IdP's token endpoint (RFC 6749 §2.3.1: Basic is the default every IdP accepts). */
export const OIDC_TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post"] as const;

export const DIRECTORY_STATUSES = ["active", "disabled"] as const;
// What a SCIM PATCH answers: the resource (RFC 7644 §3.5.2; Okta, OneLogin and most clients update
// their state from it), or 204 No Content (what Microsoft Entra ID's provisioning expects).
export const DIRECTORY_PATCH_ANSWERS = ["resource", "no_content"] as const;
export type DirectoryPatchAnswer = (typeof DIRECTORY_PATCH_ANSWERS)[number];

export const KEY_ALGORITHMS = ["EdDSA", "ES256"] as const;
export const KEY_STATES = ["next", "active", "retired"] as const;

export const SIGN_IN_METHODS = ["password", "sso"] as const;

export const ACTOR_TYPES = ["console_member", "api_token", "directory", "identity_provider", "end_user", "system", "anonymous"] as const;
export type ActorType = (typeof ACTOR_TYPES)[number];

export const AUDIT_OUTCOMES = ["success", "failure", "denied"] as const;
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

// The membership ledger (membership history): what changed, filled by database triggers.
export const LEDGER_KINDS = ["member", "access", "grant"] as const;
export type LedgerKind = (typeof LEDGER_KINDS)[number];

// Access reviews: a campaign reviews a group's memberships, the grants on resources, or who may
// enter the environment.
export const REVIEW_SCOPES = ["groups", "resources", "environment_access"] as const;
export type ReviewScope = (typeof REVIEW_SCOPES)[number];
export const REVIEW_STATUSES = ["open", "closed"] as const;
export const REVIEW_ITEM_KINDS = ["membership", "grant", "access"] as const;

// A revocation in an access review, kept so that no sync adds it back: of what a directory or an IdP
// owned (scim, saml, jit), or of what an admin granted by hand (manual: every sync holds it back).
export const EXCLUSION_KINDS = ["member", "access"] as const;
export type ExclusionKind = (typeof EXCLUSION_KINDS)[number];
export const EXCLUSION_SOURCES = ["scim", "saml", "jit", "manual"] as const;
export type ExclusionSource = (typeof EXCLUSION_SOURCES)[number];
export const REVIEW_DECISIONS = ["keep", "revoke"] as const;
export type ReviewDecision = (typeof REVIEW_DECISIONS)[number];
