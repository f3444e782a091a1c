import { describe, expect, it } from "vitest";
import type { Actor } from "@/lib/auth/actor";
import { CONSOLE_ROLES, type ConsoleRole } from "@/db/enums";
import { authorize, can, consoleMemberDenialReason, denialReason, PERMISSION_RESOURCES, PERMISSIONS } from "./permissions";

const member = (role: ConsoleRole, environmentIds: string[] = []): Actor => ({
  type: "console_member",
  id: "m",
  label: "m@example.com",
  role,
  environmentIds,
});

describe("permissions table", () => {
  it("defines every resource for every role", () => {
    for (const role of CONSOLE_ROLES) {
      expect(Object.keys(PERMISSIONS[role]).sort()).toEqual([...PERMISSION_RESOURCES].sort());
    }
  });

  it("lets a reviewer read everything and change nothing (but decide their review items), with the reason", () => {
    const reviewer = member("reviewer");
    for (const resource of PERMISSION_RESOURCES) {
      expect(can(reviewer, resource, "read", "any")).toBe(true);
      if (resource === "review_decisions") expect(can(reviewer, resource, "write")).toBe(true);
      else expect(denialReason(reviewer, resource, "write", "any")).toBe(`A reviewer cannot change ${resource.replace(/_/g, " ")}.`);
    }
  });

  it("lets owners and admins manage console members, and keeps owners to owners", () => {
    expect(can(member("owner"), "console_members", "write")).toBe(true);
    expect(can(member("admin"), "console_members", "write")).toBe(true);
    expect(consoleMemberDenialReason(member("admin"), { next: "admin" })).toBeNull();
    expect(consoleMemberDenialReason(member("admin"), { current: "reviewer", next: "environment_admin" })).toBeNull();
    expect(consoleMemberDenialReason(member("admin"), { next: "owner" })).toBe("Only an owner can make someone an owner.");
    expect(consoleMemberDenialReason(member("admin"), { current: "owner" })).toBe("Only an owner can change, suspend or remove an owner.");
    expect(consoleMemberDenialReason(member("owner"), { current: "owner", next: "reviewer" })).toBeNull();
    const token: Actor = { type: "api_token", id: "t", label: "t", scope: "write", environmentIds: null };
    expect(consoleMemberDenialReason(token, { next: "reviewer" })).toBeNull();
    expect(consoleMemberDenialReason(token, { next: "owner" })).toBe("Only an owner signed in to the console can invite, change, suspend or remove an owner; an API token cannot.");
    const scopedToken: Actor = { ...token, environmentIds: ["dev-id"] };
    expect(consoleMemberDenialReason(scopedToken, { next: "reviewer" })).toBe("This API token is scoped to environments and cannot make account-wide changes.");
    expect(consoleMemberDenialReason(member("environment_admin", ["dev-id"]))).toBe("An environment admin cannot change console members.");
    expect(consoleMemberDenialReason(member("reviewer"))).toBe("A reviewer cannot change console members.");
  });

  it("scopes an environment admin to their environments", () => {
    const devAdmin = member("environment_admin", ["dev-id"]);
    expect(can(devAdmin, "groups", "write", ["dev-id"])).toBe(true);
    expect(denialReason(devAdmin, "groups", "write", ["prod-id"])).toBe("This change touches an environment outside your scope.");
    // A user who can also enter PROD is out of a DEV admin's reach.
    expect(denialReason(devAdmin, "users", "write", ["dev-id", "prod-id"])).toBe("This change touches an environment outside your scope.");
    expect(denialReason(devAdmin, "users", "write", [])).toBe("This change is account-wide; it needs an owner or admin.");
    expect(denialReason(devAdmin, "identity_providers", "write", "any")).toBe("An environment admin cannot change identity providers.");
    expect(can(devAdmin, "users", "write", "any")).toBe(true);
  });

  it("treats API tokens by scope and environments", () => {
    const readToken: Actor = { type: "api_token", id: "t", label: "t", scope: "read", environmentIds: null };
    expect(denialReason(readToken, "users", "write", [])).toBe("This API token is read-only.");
    const scoped: Actor = { type: "api_token", id: "t", label: "t", scope: "write", environmentIds: ["dev-id"] };
    expect(can(scoped, "groups", "write", ["dev-id"])).toBe(true);
    expect(denialReason(scoped, "groups", "write", ["prod-id"])).toBe("This change touches an environment outside your scope.");
    // A read is refused as a read, not as a change.
    expect(denialReason(scoped, "groups", "read", ["prod-id"])).toBe("This reads an environment outside your scope.");
    expect(denialReason(scoped, "groups", "read", [])).toBe("This is account-wide; access limited to environments cannot read it.");
  });

  it("lets a directory write users and memberships of its own environment only", () => {
    const directory: Actor = { type: "directory", id: "d", label: "Okta", environmentIds: ["dev-id"] };
    expect(can(directory, "memberships", "write", ["dev-id"])).toBe(true);
    expect(denialReason(directory, "memberships", "write", ["prod-id"])).toBe("This change touches an environment outside your scope.");
    expect(denialReason(directory, "access_grants", "write", ["dev-id"])).toBe("A directory cannot change access grants.");
  });

  it("throws a ForbiddenError carrying the reason", () => {
    expect(() => authorize(member("reviewer"), "users", "write", "any")).toThrowError("A reviewer cannot change users.");
  });
});
