import "server-only";
import { and, asc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/client";
import { FEATURE_LABELS } from "@/db/enums";
import { directories, groups, identityProviders, resources } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { can } from "@/lib/permissions";
import { listUsers } from "@/lib/users/list";
import { parseInput, uuidSchema } from "@/lib/validation";
import { counted } from "@/lib/domain/words";
import { containsPattern } from "@/lib/domain/like";

// The console's command palette (⌘K): what a typed fragment finds in one environment, each with
// where it leads, searched on the server (the users search is the users table's own, indexed).
// Each kind is searched only when the actor may read it.

export type PaletteHit = { kind: "user" | "group" | "resource" | "identity provider" | "directory"; label: string; detail: string; href: string };

const input = z.object({ environmentId: uuidSchema, environmentKey: z.string().max(64), q: z.string().trim().max(200) });

export async function paletteSearch(ctx: DomainContext, raw: unknown, perKind = 5): Promise<PaletteHit[]> {
  const { environmentId, environmentKey, q } = parseInput(input, raw);
  if (q.length < 2) return [];
  const base = `/console/${environmentKey}`;
  const may = (resource: Parameters<typeof can>[1]) => can(ctx.actor, resource, "read", [environmentId]);
  const db = getDb();
  const like = containsPattern(q);
  const [users, groupRows, resourceRows, idpRows, directoryRows] = await Promise.all([
    may("users") ? listUsers({ environmentId, q, size: perKind, withTotal: false, sort: "name", dir: "asc" }).then((p) => p.rows) : [],
    may("groups")
      ? db.select({ id: groups.id, name: groups.name, memberCount: groups.memberCount }).from(groups).where(and(eq(groups.environmentId, environmentId), sql`lower(${groups.name}) like ${like}`)).orderBy(asc(groups.name)).limit(perKind)
      : [],
    may("resources")
      ? db.select({ id: resources.id, name: resources.name, feature: resources.feature }).from(resources).where(and(eq(resources.environmentId, environmentId), sql`lower(${resources.name}) like ${like}`)).orderBy(asc(resources.name)).limit(perKind)
      : [],
    may("identity_providers") ? db.select({ id: identityProviders.id, name: identityProviders.name }).from(identityProviders).where(sql`lower(${identityProviders.name}) like ${like}`).orderBy(asc(identityProviders.name)).limit(perKind) : [],
    may("directories")
      ? db.select({ id: directories.id, name: directories.name }).from(directories).where(and(eq(directories.environmentId, environmentId), sql`lower(${directories.name}) like ${like}`)).orderBy(asc(directories.name)).limit(perKind)
      : [],
  ]);
  return [
    ...users.map((u) => ({ kind: "user" as const, label: u.name, detail: u.email, href: `${base}/users/${u.id}` })),
    ...groupRows.map((g) => ({ kind: "group" as const, label: g.name, detail: counted(g.memberCount, "member"), href: `${base}/groups/${g.id}` })),
    ...resourceRows.map((r) => ({ kind: "resource" as const, label: r.name, detail: FEATURE_LABELS[r.feature], href: `${base}/access/${r.id}` })),
    ...idpRows.map((i) => ({ kind: "identity provider" as const, label: i.name, detail: "Identity provider", href: `${base}/identity-providers/${i.id}` })),
    ...directoryRows.map((d) => ({ kind: "directory" as const, label: d.name, detail: "SCIM directory", href: `${base}/directories/${d.id}` })),
  ];
}
