import { eq } from "drizzle-orm";
import type { AnyPgColumn } from "drizzle-orm/pg-core";

// Whose second factors a row holds: a console member's or an end user's (second_factors,
// recovery_codes and webauthn_challenges each have both columns, exactly one set).

/** Whose factors: a console member's or an end user's (each has their own, apart). */
export type FactorOwner = { kind: "member"; id: string } | { kind: "user"; id: string };
export const memberOwner = (id: string): FactorOwner => ({ kind: "member", id });
export const userOwner = (id: string): FactorOwner => ({ kind: "user", id });

/** The rows of `table` that belong to `owner`. */
export function ownedBy(table: { memberId: AnyPgColumn; userId: AnyPgColumn }, owner: FactorOwner) {
  return eq(owner.kind === "member" ? table.memberId : table.userId, owner.id);
}
export const ownerColumns = (owner: FactorOwner) => (owner.kind === "member" ? { memberId: owner.id, userId: null } : { memberId: null, userId: owner.id });

