import "server-only";
import { and, asc, eq, inArray, isNotNull, isNull, sql } from "drizzle-orm";
import { getDb, type Executor } from "@/db/client";
import { FEATURE_LABELS, type Feature } from "@/db/enums";
import { accessGrants, directories, groupMappings, groupMembers, groups, identityProviders, membershipExclusions, resources, type Group } from "@/db/schema";
import { uuidSchema } from "@/lib/validation";
import { containsPattern } from "@/lib/domain/like";

// What the console says about groups (reads only): the Groups list (search, size, source, the IdP
// groups mapped to each, what each grants) and a group's page (what it is, who is in it by source,
// what it grants).

/** What each group source means, in a few words. */
export const GROUP_SOURCE_WORDS: Record<string, string> = {
  manual: "made in the console",
  scim: "synced by a directory",
  saml: "from IdP sign-ins",
  system: "everyone with access",
};

const MEMBER_SOURCE_WORDS: Record<string, string> = { manual: "added in the console", scim: "from the directory", saml: "from IdP sign-ins", system: "with access" };

/** "2 added in the console, 3 from IdP sign-ins (Okta: 2, Corporate OIDC: 1)": a group's members by source, IdP syncs by IdP. */
export function membersBySourceWords(detail: { membersBySource: Record<string, number>; syncedByIdp: SyncedByIdp }): string {
  const order = Object.keys(MEMBER_SOURCE_WORDS);
  const parts = Object.entries(detail.membersBySource)
    .filter(([, n]) => n > 0)
    .sort(([a], [b]) => order.indexOf(a) - order.indexOf(b))
    .map(([source, n]) => {
      const words = `${n.toLocaleString("en")} ${MEMBER_SOURCE_WORDS[source] ?? source}`;
      if (source !== "saml" || !detail.syncedByIdp.length) return words;
      const byIdp = detail.syncedByIdp.map((s) => `${s.idp ?? "no IdP recorded"}: ${s.n.toLocaleString("en")}`);
      return `${words} (${byIdp.join(", ")})`;
    });
  return parts.length ? parts.join(", ") : "none yet";
}

export type GroupGrant = { id: string; feature: Feature; resourceId: string | null; label: string };
export type GroupOverview = Pick<Group, "id" | "name" | "description" | "source" | "memberCount"> & {
  mappedFrom: string[];
  grants: GroupGrant[];
  directory: string | null;
};

const grantLabel = (feature: Feature, resource: string | null, tool: string | null) =>
  resource ? `${FEATURE_LABELS[feature]}: ${resource}${tool ? ` (tool ${tool})` : ""}` : `All of ${FEATURE_LABELS[feature]}`;

async function extras(groupIds: string[], executor: Executor) {
  if (!groupIds.length) return { mappings: new Map<string, string[]>(), grants: new Map<string, GroupGrant[]>() };
  const [mappingRows, grantRows] = await Promise.all([
    executor
      .select({ groupId: groupMappings.groupId, idp: identityProviders.name, value: groupMappings.idpValue })
      .from(groupMappings)
      .innerJoin(identityProviders, eq(identityProviders.id, groupMappings.identityProviderId))
      .where(inArray(groupMappings.groupId, groupIds))
      .orderBy(asc(identityProviders.name), asc(groupMappings.idpValue)),
    executor
      .select({ id: accessGrants.id, groupId: accessGrants.groupId, feature: accessGrants.feature, resourceId: accessGrants.resourceId, resource: resources.name, tool: accessGrants.tool })
      .from(accessGrants)
      .leftJoin(resources, eq(resources.id, accessGrants.resourceId))
      .where(and(isNotNull(accessGrants.groupId), inArray(accessGrants.groupId, groupIds)))
      .orderBy(asc(accessGrants.feature), asc(resources.name)),
  ]);
  const mappings = new Map<string, string[]>();
  for (const m of mappingRows) mappings.set(m.groupId, [...(mappings.get(m.groupId) ?? []), `${m.idp}: ${m.value}`]);
  const grants = new Map<string, GroupGrant[]>();
  for (const g of grantRows) grants.set(g.groupId!, [...(grants.get(g.groupId!) ?? []), { id: g.id, feature: g.feature, resourceId: g.resourceId, label: grantLabel(g.feature, g.resource, g.tool) }]);
  return { mappings, grants };
}

/** The environment's groups by name (a name fragment narrows them), each with its mapped IdP groups and grants. */
export async function groupsOverview(environmentId: string, q = "", limit = 200, executor: Executor = getDb()): Promise<{ rows: GroupOverview[]; total: number }> {
  const fragment = q.trim().toLowerCase();
  const where = and(eq(groups.environmentId, environmentId), fragment ? sql`lower(${groups.name}) like ${containsPattern(fragment)}` : undefined);
  const [rows, [count]] = await Promise.all([
    executor
      .select({ id: groups.id, name: groups.name, description: groups.description, source: groups.source, memberCount: groups.memberCount, directory: directories.name })
      .from(groups)
      .leftJoin(directories, eq(directories.id, groups.directoryId))
      .where(where)
      // Everyone first, then by name.
      .orderBy(sql`${groups.source} = 'system' desc`, sql`lower(${groups.name})`)
      .limit(limit),
    executor.select({ n: sql<number>`count(*)::int` }).from(groups).where(where),
  ]);
  const { mappings, grants } = await extras(rows.map((r) => r.id), executor);
  return {
    rows: rows.map((r) => ({ ...r, mappedFrom: mappings.get(r.id) ?? [], grants: grants.get(r.id) ?? [] })),
    total: count?.n ?? 0,
  };
}

/** Members an IdP's group sync added, by IdP (null: added before syncs were recorded per IdP, or by an IdP since deleted). */
export type SyncedByIdp = { idp: string | null; n: number }[];

/** One group's page: the overview, how many members each source holds, and which IdPs synced theirs. */
export async function groupDetail(
  environmentId: string,
  groupId: string,
  executor: Executor = getDb(),
): Promise<(GroupOverview & { membersBySource: Record<string, number>; syncedByIdp: SyncedByIdp; standingExclusions: number }) | null> {
  if (!uuidSchema.safeParse(groupId).success) return null;
  const [row] = await executor
    .select({ id: groups.id, name: groups.name, description: groups.description, source: groups.source, memberCount: groups.memberCount, directory: directories.name })
    .from(groups)
    .leftJoin(directories, eq(directories.id, groups.directoryId))
    .where(and(eq(groups.id, groupId), eq(groups.environmentId, environmentId)));
  if (!row) return null;
  const [{ mappings, grants }, bySource, [exclusions]] = await Promise.all([
    extras([row.id], executor),
    executor
      .select({ source: groupMembers.source, idp: identityProviders.name, n: sql<number>`count(*)::int` })
      .from(groupMembers)
      .leftJoin(identityProviders, eq(identityProviders.id, groupMembers.identityProviderId))
      .where(eq(groupMembers.groupId, row.id))
      // By the IdP's id: two IdPs may share a name, and each has its own count.
      .groupBy(groupMembers.source, groupMembers.identityProviderId, identityProviders.name)
      .orderBy(sql`${identityProviders.name} nulls last`),
    // Access reviews' standing exclusions from the group: they end if the group is deleted.
    executor
      .select({ n: sql<number>`count(*)::int` })
      .from(membershipExclusions)
      .where(and(eq(membershipExclusions.groupId, row.id), isNull(membershipExclusions.liftedAt))),
  ]);
  const membersBySource: Record<string, number> = {};
  for (const b of bySource) membersBySource[b.source] = (membersBySource[b.source] ?? 0) + b.n;
  const syncedByIdp = bySource.filter((b) => b.source === "saml").map((b) => ({ idp: b.idp, n: b.n }));
  return { ...row, mappedFrom: mappings.get(row.id) ?? [], grants: grants.get(row.id) ?? [], membersBySource, syncedByIdp, standingExclusions: exclusions?.n ?? 0 };
}
