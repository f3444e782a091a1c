import type { ConsoleRole } from "@/db/enums";
import { ForbiddenError } from "@/lib/errors";
import type { Actor } from "@/lib/auth/actor";

// One declarative table: role → resource → actions. Checked on the server by every door;
// the UI may read it to hide what would be refused, but hiding is never the protection.

export const PERMISSION_RESOURCES = [
  "users",
  "environment_access",
  "groups",
  "memberships",
  "environments",
  "environment_auth",
  "identity_providers",
  "directories",
  "resources",
  "access_grants",
  "signing_keys",
  "audit",
  "console_members",
  "api_tokens",
  // Asking the decision endpoint (components with an `authz` API token, or any reader).
  "decisions",
  // Access review campaigns: create and close (closing applies the revocations).
  "access_reviews",
  // Keep / revoke on a review's items: the assigned reviewers' own work (lib/reviews checks the
  // assignment). A decision changes no access; closing the campaign does, with access_reviews.
  "review_decisions",
  // Signed webhooks for the audit trail (account-wide).
  "webhooks",
  // End users' requests for a resource or an MCP tool: the user files their own (from the MCP
  // server's request_access tool); admins of the environment approve (a grant) or deny.
  "access_requests",
] as const;
export type PermissionResource = (typeof PERMISSION_RESOURCES)[number];
export type PermissionAction = "read" | "write";

/**
 * Resources that live inside one environment. An environment admin may write them only in the
 * environments they are scoped to; for `users` (account-wide) that means every environment the
 * user can enter, so a DEV admin cannot suspend someone who also works in PROD.
 */
export const ENVIRONMENT_SCOPED: ReadonlySet<PermissionResource> = new Set([
  "users",
  "environment_access",
  "groups",
  "memberships",
  "environment_auth",
  "directories",
  "resources",
  "access_grants",
  "decisions",
  "access_reviews",
  "access_requests",
]);

const READ = ["read"] as const;
const READ_WRITE = ["read", "write"] as const;

const everything = (actions: readonly PermissionAction[]) =>
  Object.fromEntries(PERMISSION_RESOURCES.map((r) => [r, actions])) as Record<PermissionResource, readonly PermissionAction[]>;

export const PERMISSIONS: Record<ConsoleRole, Record<PermissionResource, readonly PermissionAction[]>> = {
  owner: everything(READ_WRITE),
  // Audit retention (the only write on the trail) is the owners'. Admins manage console members
  // except owners (see consoleMemberDenialReason).
  admin: { ...everything(READ_WRITE), audit: READ },
  environment_admin: {
    ...everything(READ),
    users: READ_WRITE,
    environment_access: READ_WRITE,
    groups: READ_WRITE,
    memberships: READ_WRITE,
    environment_auth: READ_WRITE,
    directories: READ_WRITE,
    resources: READ_WRITE,
    access_grants: READ_WRITE,
    access_reviews: READ_WRITE,
    review_decisions: READ_WRITE,
    access_requests: READ_WRITE,
  },
  // The reviewer changes nothing; the one write is deciding the review items assigned to them.
  reviewer: { ...everything(READ), review_decisions: READ_WRITE },
};

/** What non-console actors may do: directories and IdPs feed users and memberships of their environment. */
const MACHINE_WRITES: Record<"directory" | "identity_provider" | "end_user", ReadonlySet<PermissionResource>> = {
  directory: new Set(["users", "environment_access", "groups", "memberships"]),
  identity_provider: new Set(["users", "environment_access", "groups", "memberships"]),
  // Only their own requests (lib/access-requests checks the user is the actor).
  end_user: new Set(["access_requests"]),
};

const ROLE_LABEL: Record<ConsoleRole, string> = {
  owner: "an owner",
  admin: "an admin",
  environment_admin: "an environment admin",
  reviewer: "a reviewer",
};

/**
 * The environments a change touches: a list (empty means account-wide), or `"any"` for the early
 * check made before the target is loaded (does the actor hold this permission anywhere?).
 */
export type Scope = readonly string[] | "any";

/** Why `actor` may not do `action` on `resource` within `scope`, or null when allowed. */
export function denialReason(
  actor: Actor,
  resource: PermissionResource,
  action: PermissionAction,
  scope: Scope = [],
): string | null {
  const environmentIds = scope === "any" ? null : scope;
  switch (actor.type) {
    case "system":
      return null;
    case "console_member": {
      if (!PERMISSIONS[actor.role][resource].includes(action)) {
        return `${capitalise(ROLE_LABEL[actor.role])} cannot ${action === "read" ? "view" : "change"} ${resource.replace(/_/g, " ")}.`;
      }
      if (action === "write" && actor.role === "environment_admin" && ENVIRONMENT_SCOPED.has(resource)) {
        return outsideScope(environmentIds, actor.environmentIds, action);
      }
      return null;
    }
    case "api_token": {
      if (actor.scope === "authz" && resource !== "decisions") return "This API token may only ask the decision endpoint.";
      // A reviewer-scoped token reads what a reviewer reads and decides its member's review items (lib/reviews checks the assignment).
      const reviewerDecision = actor.scope === "reviewer" && resource === "review_decisions";
      if (action === "write" && actor.scope === "reviewer" && !reviewerDecision) return "This API token is reviewer-scoped: it reads, and decides the review items of the member it acts for.";
      if (action === "write" && actor.scope !== "write" && !reviewerDecision) return "This API token is read-only.";
      if (actor.environmentIds && ENVIRONMENT_SCOPED.has(resource)) return outsideScope(environmentIds, actor.environmentIds, action);
      if (actor.environmentIds && action === "write" && environmentIds) return "This API token is scoped to environments and cannot make account-wide changes.";
      return null;
    }
    case "anonymous":
      return "Sign in, or send a valid token.";
    case "directory":
    case "identity_provider":
    case "end_user": {
      if (action === "read") return outsideScope(environmentIds, actor.environmentIds, action, true);
      if (!MACHINE_WRITES[actor.type].has(resource)) return `A ${actor.type.replace("_", " ")} cannot change ${resource.replace(/_/g, " ")}.`;
      return outsideScope(environmentIds, actor.environmentIds, action, true);
    }
  }
}

/** The refusal of a read or a change that reaches an environment outside the actor's (one wording for every door). */
export const OUTSIDE_SCOPE: Record<PermissionAction, string> = {
  read: "This reads an environment outside your scope.",
  write: "This change touches an environment outside your scope.",
};

/** Whether what is touched lies within the allowed environments; the reason says "reads" or "change" as the action is. */
function outsideScope(touched: readonly string[] | null, allowed: readonly string[], action: PermissionAction, allowEmpty = false): string | null {
  if (touched === null) return null;
  if (touched.length === 0) {
    if (allowEmpty) return null;
    return action === "read" ? "This is account-wide; access limited to environments cannot read it." : "This change is account-wide; it needs an owner or admin.";
  }
  const outside = touched.filter((id) => !allowed.includes(id));
  if (outside.length === 0) return null;
  return OUTSIDE_SCOPE[action];
}

function capitalise(s: string) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Whether the actor is an owner (or the system): the console's security settings are theirs alone. */
export function isOwner(actor: Actor): boolean {
  return actor.type === "system" || (actor.type === "console_member" && actor.role === "owner");
}

/** Throws a ForbiddenError saying `what` only an owner may do, unless the actor is one. */
export function authorizeOwner(actor: Actor, what: string): void {
  if (!isOwner(actor)) throw new ForbiddenError(`Only an owner ${what}.`);
}

/**
 * Console members: owners and admins manage them (the table above), but owners are the owners'
 * business alone, as super admins are in Okta and Keycloak: only an owner signed in to the console
 * may invite an owner, make a member an owner, or change, suspend or remove an owner. An admin
 * cannot raise anyone (themselves included) to owner, and neither can an API token (an admin could
 * mint one). `current`: the member's role now (none for an invitation); `next`: the role asked for.
 */
export function consoleMemberDenialReason(actor: Actor, roles: { current?: ConsoleRole; next?: ConsoleRole } = {}): string | null {
  const reason = denialReason(actor, "console_members", "write");
  if (reason) return reason;
  if (roles.current !== "owner" && roles.next !== "owner") return null;
  if (isOwner(actor)) return null;
  if (actor.type === "api_token") return "Only an owner signed in to the console can invite, change, suspend or remove an owner; an API token cannot.";
  return roles.current === "owner"
    ? "Only an owner can change, suspend or remove an owner."
    : "Only an owner can make someone an owner.";
}

export function can(actor: Actor, resource: PermissionResource, action: PermissionAction, scope?: Scope) {
  return denialReason(actor, resource, action, scope) === null;
}

/** Throws a ForbiddenError with the reason when the actor may not act. */
export function authorize(
  actor: Actor,
  resource: PermissionResource,
  action: PermissionAction,
  scope?: Scope,
): void {
  const reason = denialReason(actor, resource, action, scope);
  if (reason) throw new ForbiddenError(reason);
}
