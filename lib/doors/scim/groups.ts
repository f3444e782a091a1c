import "server-only";
import { and, asc, eq, inArray, sql } from "drizzle-orm";
import { getDb, type Executor, type Tx } from "@/db/client";
import { arrayLiteral } from "@/db/records";
import { directoryUsers, environmentAccess, groupMembers, groups, users, type Group } from "@/db/schema";
import { recordAuditMany, type AuditEntry } from "@/lib/audit/record";
import { requireEnvironment } from "@/lib/environments";
import { uniqueViolation } from "@/lib/db-errors";
import { ScimError } from "./errors";
import { FilterError } from "./filter";
import { type Resolver } from "./filter-sql";
import { listWhere, pageOf } from "./list";
import { applyPatch, withoutReadOnly } from "./patch";
import { normaliseResource, SCHEMA, ScimValueError } from "./schema";
import { checkIfMatch, type ScimContext } from "./users";
import { deleteGroupRows, GROUP_NAME_MAX, insertGroupRows, updateGroupRow } from "@/lib/groups/group-rows";
import { exclusionNote, memberExclusionsOf } from "@/lib/groups/exclusions";
import { syncDirectoryMembershipRows } from "@/lib/groups/membership-rows";
import { groupDeletedEntry } from "@/lib/groups";

// SCIM groups are groups of the directory's environment (source scim, directory_id set). Their SCIM
// members are the memberships this directory made (source scim, same directory): a sync adds and
// removes only those, so manual memberships of the same group are never touched.

type Member = { value: string; display: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The directory's members of each group, in one query. */
async function membersOfGroups(executor: Executor, directoryId: string, groupIds: string[]): Promise<Map<string, Member[]>> {
  const byGroup = new Map<string, Member[]>(groupIds.map((id) => [id, []]));
  if (groupIds.length === 0) return byGroup;
  const rows = await executor
    .select({ groupId: groupMembers.groupId, value: groupMembers.userId, display: sql<string>`coalesce(${groupMembers.scimDisplay}, ${users.name})` })
    .from(groupMembers)
    .innerJoin(users, eq(users.id, groupMembers.userId))
    .where(and(inArray(groupMembers.groupId, groupIds), eq(groupMembers.directoryId, directoryId), eq(groupMembers.source, "scim")))
    .orderBy(asc(groupMembers.createdAt), asc(groupMembers.userId));
  for (const { groupId, ...member } of rows) byGroup.get(groupId)!.push(member);
  return byGroup;
}

async function membersOf(executor: Executor, directoryId: string, groupId: string): Promise<Member[]> {
  return (await membersOfGroups(executor, directoryId, [groupId])).get(groupId)!;
}

export function groupRepresentation(sc: ScimContext, group: Group, members: Member[] | null) {
  return {
    schemas: [SCHEMA.group],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.name,
    ...(members ? { members: members.map((m) => ({ value: m.value, display: m.display, $ref: `${sc.baseUrl}/Users/${m.value}`, type: "User" })) } : {}),
    meta: {
      resourceType: "Group",
      created: group.createdAt.toISOString(),
      lastModified: group.updatedAt.toISOString(),
      version: `W/"${group.version}"`,
      location: `${sc.baseUrl}/Groups/${group.id}`,
    },
  };
}

async function loadGroup(executor: Executor, sc: ScimContext, id: string, lock = false): Promise<Group> {
  if (!UUID.test(id)) throw new ScimError(404, `No group ${id} in this directory.`);
  const query = executor.select().from(groups).where(and(eq(groups.id, id), eq(groups.directoryId, sc.directory.id), eq(groups.environmentId, sc.directory.environmentId)));
  const [group] = lock ? await query.for("update") : await query;
  if (!group) throw new ScimError(404, `No group ${id} in this directory.`);
  return group;
}

export async function getScimGroup(sc: ScimContext, id: string, withMembers = true) {
  const group = await loadGroup(getDb(), sc, id);
  return groupRepresentation(sc, group, withMembers ? await membersOf(getDb(), sc.directory.id, group.id) : null);
}

type WantedMember = { value: string; display: string | null };
/** A member the client asked for and the sync left out: an access review excluded them from the group. */
export type ExcludedMember = { value: string; email: string; reason: string };
type ParsedGroup = { displayName: string; externalId: string | null; members: WantedMember[] | undefined };

/** Members as clients send them: objects with value (and display, or Entra's displayName), or bare ids. */
function memberList(raw: unknown): WantedMember[] {
  const items = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  // A member is { value: "<id>" } or a bare id (Entra's tests send one). Ids that are no user of the
  // directory are ignored and reported (syncMembers); a member that is no id at all is refused.
  const notAMember = (i: number) => new ScimError(400, `members[${i}] must be an object with a string "value" (the user's id), or the id itself.`, "invalidValue");
  return items
    .map((m, i) => {
      if (typeof m === "string") return { value: m, display: null };
      if (!m || typeof m !== "object" || Array.isArray(m)) throw notAMember(i);
      const o = m as Record<string, unknown>;
      const get = (name: string) => o[Object.keys(o).find((k) => k.toLowerCase() === name) ?? name];
      const value = get("value");
      if (typeof value !== "string") throw notAMember(i);
      const display = get("display") ?? get("displayname");
      return { value, display: typeof display === "string" ? display.slice(0, 200) : null };
    })
    .filter((m) => m.value);
}

function parseGroup(body: unknown): ParsedGroup {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new ScimError(400, "The body must be a JSON object (a SCIM Group).", "invalidSyntax");
  let resource: Record<string, unknown>;
  // Members are read separately (memberList): clients send bare ids as well as objects.
  const withoutMembers = Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([k]) => k.toLowerCase() !== "members"));
  try {
    resource = normaliseResource("group", withoutMembers);
  } catch (e) {
    if (e instanceof ScimValueError) throw new ScimError(400, e.message, "invalidValue");
    throw e;
  }
  const displayName = typeof resource.displayName === "string" ? resource.displayName.trim() : "";
  if (!displayName) throw new ScimError(400, "displayName is required.", "invalidValue");
  if (displayName.length > GROUP_NAME_MAX) throw new ScimError(400, `displayName is longer than ${GROUP_NAME_MAX} characters.`, "invalidValue");
  const rawMembers = (body as Record<string, unknown>)[Object.keys(body as object).find((k) => k.toLowerCase() === "members") ?? "members"];
  const members = rawMembers === undefined ? undefined : memberList(rawMembers);
  return { displayName, externalId: typeof resource.externalId === "string" ? resource.externalId : null, members };
}

/**
 * Makes the directory's memberships of the group equal `wanted`: adds missing ones (source scim),
 * removes this directory's others. Values that are not active users of this directory are ignored
 * (reported in the change), as Entra's own test suite expects.
 */
type Synced = { ignored: string[]; excluded: ExcludedMember[] };

async function syncMembers(tx: Tx, sc: ScimContext, group: Group, wanted: WantedMember[], audit: AuditEntry[]): Promise<Synced> {
  const byId = new Map(wanted.map((m) => [m.value, m.display]));
  const ids = [...byId.keys()];
  const valid = ids.filter((v) => UUID.test(v));
  const known = valid.length
    ? await tx
        .select({ userId: directoryUsers.userId, email: users.email })
        .from(directoryUsers)
        .innerJoin(users, eq(users.id, directoryUsers.userId))
        .innerJoin(environmentAccess, and(eq(environmentAccess.userId, directoryUsers.userId), eq(environmentAccess.environmentId, sc.directory.environmentId)))
        // One parameter whatever the group's size (one per member passed Postgres's 65,535).
        .where(and(eq(directoryUsers.directoryId, sc.directory.id), sql`${directoryUsers.userId} = any(${arrayLiteral(valid)}::uuid[])`))
    : [];
  const emailOf = new Map(known.map((k) => [k.userId, k.email]));
  const keep = new Set(emailOf.keys());
  const ignored = ids.filter((v) => !keep.has(v));
  // Members an access review took out of this group: left out while the exclusion stands.
  const exclusions = await memberExclusionsOf(tx, group.id, [...keep]);
  const excluded = [...exclusions].map(([userId, e]) => ({ value: userId, email: emailOf.get(userId) ?? userId, reason: exclusionNote(e) }));
  for (const userId of exclusions.keys()) keep.delete(userId);
  const env = await requireEnvironment(tx, sc.directory.environmentId);
  const { added, removed } = await syncDirectoryMembershipRows(tx, group, sc.directory.id, [...keep].map((userId) => ({ userId, display: byId.get(userId) ?? null })));
  if (added.length) audit.push({ action: "group.members.add", targetType: "group", targetId: group.id, targetLabel: group.name, environment: env, after: { users: added.map((id) => emailOf.get(id) ?? id), source: "scim" } });
  if (removed.length) audit.push({ action: "group.members.remove", targetType: "group", targetId: group.id, targetLabel: group.name, environment: env, before: { users: removed, source: "scim" } });
  return { ignored, excluded };
}

function conflict(error: unknown, displayName: string): never {
  if (uniqueViolation(error) === "groups_env_name_lower_key") throw new ScimError(409, `A group named "${displayName}" already exists in this environment.`, "uniqueness");
  throw error;
}

export async function createScimGroup(sc: ScimContext, body: unknown) {
  const parsed = parseGroup(body);
  try {
    return await getDb().transaction(async (tx) => {
      const env = await requireEnvironment(tx, sc.directory.environmentId);
      const [group] = await insertGroupRows(tx, [
        { environmentId: env.id, name: parsed.displayName, source: "scim", externalId: parsed.externalId, directoryId: sc.directory.id, description: `Provisioned by ${sc.directory.name}.` },
      ]);
      const audit: AuditEntry[] = [{ action: "group.create", targetType: "group", targetId: group!.id, targetLabel: group!.name, environment: env, after: { name: group!.name, source: "scim", directory: sc.directory.name } }];
      const { ignored, excluded } = await syncMembers(tx, sc, group!, parsed.members ?? [], audit);
      await recordAuditMany(tx, sc.ctx, audit);
      const [fresh] = await tx.select().from(groups).where(eq(groups.id, group!.id));
      return { resource: groupRepresentation(sc, fresh!, await membersOf(tx, sc.directory.id, group!.id)), ignored, excluded };
    });
  } catch (error) {
    return conflict(error, parsed.displayName);
  }
}

async function writeGroup(tx: Tx, sc: ScimContext, group: Group, parsed: ParsedGroup, action: string, withMembers = true) {
  const env = await requireEnvironment(tx, sc.directory.environmentId);
  const audit: AuditEntry[] = [];
  const updated = await updateGroupRow(tx, group.id, { name: parsed.displayName, externalId: parsed.externalId });
  if (updated.name !== group.name) audit.push({ action: "group.rename", targetType: "group", targetId: group.id, targetLabel: updated.name, environment: env, before: { name: group.name }, after: { name: updated.name } });
  const { ignored, excluded }: Synced = parsed.members === undefined ? { ignored: [], excluded: [] } : await syncMembers(tx, sc, updated, parsed.members, audit);
  audit.push({
    action,
    targetType: "group",
    targetId: group.id,
    targetLabel: updated.name,
    environment: env,
    after: { ignoredMembers: ignored.length ? ignored : undefined, excludedMembers: excluded.length ? excluded.map((e) => ({ user: e.email, reason: e.reason })) : undefined },
  });
  await recordAuditMany(tx, sc.ctx, audit);
  return { resource: groupRepresentation(sc, updated, withMembers ? await membersOf(tx, sc.directory.id, group.id) : null), ignored, excluded };
}

export async function replaceScimGroup(sc: ScimContext, id: string, body: unknown, ifMatch?: string | null) {
  const parsed = parseGroup(body);
  try {
    return await getDb().transaction(async (tx) => {
      const group = await loadGroup(tx, sc, id, true);
      checkIfMatch(ifMatch, group.version);
      // PUT replaces: no members attribute means no members.
      return writeGroup(tx, sc, group, { ...parsed, members: parsed.members ?? [] }, "scim.group_replace");
    });
  } catch (error) {
    return conflict(error, parsed.displayName);
  }
}

/** PATCH under the group's row lock, so two PATCHes adding different members both land. */
export async function patchScimGroup(sc: ScimContext, id: string, body: unknown, ifMatch?: string | null, withMembers = true) {
  let name = "";
  try {
    return await getDb().transaction(async (tx) => {
      const group = await loadGroup(tx, sc, id, true);
      checkIfMatch(ifMatch, group.version);
      const members = await membersOf(tx, sc.directory.id, group.id);
      const current = { displayName: group.name, ...(group.externalId ? { externalId: group.externalId } : {}), members: members.map((m) => ({ value: m.value })) };
      const patched = withoutReadOnly(applyPatch(current, body), group.id, []);
      // Entra's garbage test adds "members" as a bare string: memberList reads it as one member value.
      const parsed = parseGroup(patched);
      name = parsed.displayName;
      return writeGroup(tx, sc, group, { ...parsed, members: parsed.members ?? [] }, "scim.group_patch", withMembers);
    });
  } catch (error) {
    return conflict(error, name);
  }
}

export async function deleteScimGroup(sc: ScimContext, id: string, ifMatch?: string | null) {
  await getDb().transaction(async (tx) => {
    const group = await loadGroup(tx, sc, id, true);
    checkIfMatch(ifMatch, group.version);
    const env = await requireEnvironment(tx, sc.directory.environmentId);
    const entry = await groupDeletedEntry(tx, group, env);
    await deleteGroupRows(tx, [group.id]);
    await recordAuditMany(tx, sc.ctx, [entry]);
  });
}

function groupResolver(sc: ScimContext): Resolver {
  return (path) => {
    if (path.schema && path.schema !== SCHEMA.group.toLowerCase()) throw new FilterError(`Unknown schema "${path.schema}".`);
    switch (path.attr) {
      case "id":
        return { kind: "scalar", expr: sql`(${groups.id})::text`, type: "string", caseExact: true };
      case "displayname":
        return { kind: "scalar", expr: sql`${groups.name}`, type: "string", caseExact: false };
      case "externalid":
        return { kind: "scalar", expr: sql`${groups.externalId}`, type: "string", caseExact: true };
      case "meta":
        if (path.sub === "created") return { kind: "scalar", expr: sql`${groups.createdAt}`, type: "dateTime", caseExact: false };
        if (path.sub === "lastmodified") return { kind: "scalar", expr: sql`${groups.updatedAt}`, type: "dateTime", caseExact: false };
        throw new FilterError(`meta.${path.sub ?? ""} cannot be filtered on.`);
      case "members":
        return {
          kind: "multi",
          array: sql`(select coalesce(jsonb_agg(jsonb_build_object('value', gm.user_id::text)), '[]'::jsonb) from ${groupMembers} gm
            where gm.group_id = ${groups.id} and gm.directory_id = ${sc.directory.id} and gm.source = 'scim')`,
          def: { name: "members", type: "complex", multiValued: true, description: "", subAttributes: [{ name: "value", type: "string", description: "" }] },
          sub: path.sub,
        };
    }
    throw new FilterError(`Groups have no attribute "${path.attr}" to filter on.`);
  };
}

export async function listScimGroups(sc: ScimContext, query: { filter?: string | null; startIndex?: number; count?: number; withMembers: boolean }) {
  const where = listWhere(and(eq(groups.directoryId, sc.directory.id), eq(groups.environmentId, sc.directory.environmentId))!, query.filter, groupResolver(sc));
  const { startIndex, count } = pageOf(query);
  const db = getDb();
  const [[total], rows] = await Promise.all([
    db.select({ n: sql<number>`count(*)::int` }).from(groups).where(where),
    count === 0 ? Promise.resolve([]) : db.select().from(groups).where(where).orderBy(asc(groups.createdAt), asc(groups.id)).offset(startIndex - 1).limit(count),
  ]);
  const members = query.withMembers ? await membersOfGroups(db, sc.directory.id, rows.map((g) => g.id)) : null;
  const resources = rows.map((g) => groupRepresentation(sc, g, members?.get(g.id) ?? null));
  return { schemas: [SCHEMA.listResponse], totalResults: total!.n, startIndex, itemsPerPage: rows.length, Resources: resources };
}
