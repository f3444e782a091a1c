import "server-only";
import { randomBytes } from "node:crypto";
import { and, asc, eq, sql } from "drizzle-orm";
import { getDb, type Executor, type Tx } from "@/db/client";
import { noteInserted } from "@/db/growth";
import { arrayLiteral, recordset } from "@/db/records";
import { directories, directoryUsers, environmentAccess, groupMembers, groups, users, type Directory, type DirectoryUser, type User } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { recordAuditMany, recordAuditOfMany, type AuditEntry } from "@/lib/audit/record";
import { requireEnvironment } from "@/lib/environments";
import { accessExclusionsOf, exclusionNote } from "@/lib/groups/exclusions";
import { deleteAccessRows, environmentIdsOf, insertAccessRows } from "@/lib/groups/membership-rows";
import { denialReason } from "@/lib/permissions";
import { userCreatedEntry } from "@/lib/users";
import { environmentAccessEntry } from "@/lib/users/bulk";
import { emailSchema } from "@/lib/validation";
import { emailVerifiedFor, insertUserRows, renameUserRows, setUserStatusRows } from "@/lib/users/rows";
import { uniqueViolation } from "@/lib/db-errors";
import { ScimError } from "./errors";
import { groupCommit } from "./group-commit";
import { env } from "@/env";
import { userResolver } from "./filter-sql";
import { listWhere, pageOf } from "./list";
import { applyPatch, withoutReadOnly } from "./patch";
import { normaliseResource, SCHEMA, ScimValueError } from "./schema";

// SCIM users are our users: a directory_users row records what the directory wrote (its userName,
// externalId, the SCIM resource, the version for ETags) and points at the users row every other door
// sees. Writes go through the same row helpers as the console and carry their audit rows.

export type ScimContext = { directory: Directory; environment: { id: string; key: string }; ctx: DomainContext; baseUrl: string };


type Row = { du: DirectoryUser; user: Pick<User, "id" | "email" | "name" | "status"> };

function etag(version: number) {
  return `W/"${version}"`;
}

export function checkIfMatch(ifMatch: string | null | undefined, version: number) {
  if (!ifMatch || ifMatch.trim() === "*") return;
  const wanted = ifMatch.split(",").map((t) => t.trim());
  if (!wanted.includes(etag(version)) && !wanted.includes(`"${version}"`)) {
    throw new ScimError(412, `The resource has changed (its version is ${etag(version)}, If-Match said ${ifMatch}).`, undefined);
  }
}

export function userRepresentation(sc: ScimContext, row: Row, groupsOf: { id: string; name: string }[] = []) {
  const { du } = row;
  const resource = du.resource;
  const schemas = [SCHEMA.user, ...(resource[SCHEMA.enterprise] ? [SCHEMA.enterprise] : [])];
  return {
    schemas,
    id: du.userId,
    ...(du.externalId ? { externalId: du.externalId } : {}),
    userName: du.userName,
    ...Object.fromEntries(Object.entries(resource).filter(([k]) => !["userName", "externalId", "active"].includes(k))),
    // Truthful: a user an admin suspended (or deprovisioned everywhere) is not active, whatever
    // the directory last sent.
    active: du.active && row.user.status !== "suspended" && row.user.status !== "deprovisioned",
    groups: groupsOf.map((g) => ({ value: g.id, display: g.name, $ref: `${sc.baseUrl}/Groups/${g.id}`, type: "direct" })),
    meta: {
      resourceType: "User",
      created: du.createdAt.toISOString(),
      lastModified: du.updatedAt.toISOString(),
      version: etag(du.version),
      location: `${sc.baseUrl}/Users/${du.userId}`,
    },
  };
}

async function loadRow(executor: Executor, directoryId: string, id: string, lock = false): Promise<Row | undefined> {
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) return undefined;
  const query = executor
    .select({ du: directoryUsers, user: { id: users.id, email: users.email, name: users.name, status: users.status } })
    .from(directoryUsers)
    .innerJoin(users, eq(users.id, directoryUsers.userId))
    .where(and(eq(directoryUsers.directoryId, directoryId), eq(directoryUsers.userId, id)));
  const [row] = lock ? await query.for("update", { of: directoryUsers }) : await query;
  return row;
}

async function groupsOfUser(executor: Executor, directoryId: string, userId: string) {
  return executor
    .select({ id: groups.id, name: groups.name })
    .from(groupMembers)
    .innerJoin(groups, eq(groups.id, groupMembers.groupId))
    .where(and(eq(groupMembers.userId, userId), eq(groupMembers.directoryId, directoryId)))
    .orderBy(asc(groups.name));
}

export async function getScimUser(sc: ScimContext, id: string) {
  const row = await loadRow(getDb(), sc.directory.id, id);
  if (!row) throw new ScimError(404, `No user ${id} in this directory.`);
  return userRepresentation(sc, row, await groupsOfUser(getDb(), sc.directory.id, id));
}

type Parsed = { userName: string; externalId: string | null; active: boolean; resource: Record<string, unknown> };

function parseUser(body: unknown): Parsed {
  if (!body || typeof body !== "object" || Array.isArray(body)) throw new ScimError(400, "The body must be a JSON object (a SCIM User).", "invalidSyntax");
  let resource: Record<string, unknown>;
  try {
    resource = normaliseResource("user", body as Record<string, unknown>);
  } catch (e) {
    if (e instanceof ScimValueError) throw new ScimError(400, e.message, "invalidValue");
    throw e;
  }
  const userName = typeof resource.userName === "string" ? resource.userName.trim() : "";
  if (!userName) throw new ScimError(400, "userName is required.", "invalidValue");
  if (userName.length > 320) throw new ScimError(400, "userName is longer than 320 characters.", "invalidValue");
  const active = resource.active === undefined ? true : (resource.active as boolean);
  const externalId = typeof resource.externalId === "string" ? resource.externalId : null;
  return { userName, externalId, active, resource: { ...resource, userName } };
}

function displayNameOf(p: Parsed): string {
  const r = p.resource as { displayName?: string; name?: { formatted?: string; givenName?: string; familyName?: string } };
  const composed = [r.name?.givenName, r.name?.familyName].filter(Boolean).join(" ");
  return (r.displayName || r.name?.formatted || composed || p.userName).slice(0, 200);
}

/** The addresses that could be the user's email, best first: an email-like userName, then primary, work, any. */
function emailCandidates(p: Parsed): string[] {
  const emails = Array.isArray(p.resource.emails) ? (p.resource.emails as { value?: string; type?: string; primary?: boolean }[]) : [];
  const ordered = [
    p.userName,
    ...emails.filter((e) => e.primary).map((e) => e.value),
    ...emails.filter((e) => e.type === "work").map((e) => e.value),
    ...emails.map((e) => e.value),
  ];
  return [...new Set(ordered.filter((e): e is string => typeof e === "string" && emailSchema.safeParse(e).success).map((e) => e.trim()))];
}

async function userNameTaken(tx: Executor, directoryId: string, userName: string, exceptUserId?: string) {
  const [hit] = await tx
    .select({ userId: directoryUsers.userId })
    .from(directoryUsers)
    .where(and(eq(directoryUsers.directoryId, directoryId), sql`lower(${directoryUsers.userName}) = lower(${userName})`, exceptUserId ? sql`${directoryUsers.userId} <> ${exceptUserId}` : undefined));
  return !!hit;
}

type NewDirectoryUser = Pick<typeof directoryUsers.$inferSelect, "userId" | "userName" | "externalId" | "active" | "resource">;

/** Inserts a directory's records of users in one statement (one text whatever their number: db/records.ts). */
async function insertDirectoryUserRows(tx: Executor, directoryId: string, rows: NewDirectoryUser[]): Promise<(typeof directoryUsers.$inferSelect)[]> {
  if (!rows.length) return [];
  const records = rows.map((r) => ({ user_id: r.userId, user_name: r.userName, external_id: r.externalId, active: r.active, resource: r.resource }));
  // The resource is not read back: it is the one just sent.
  const inserted = await tx.execute<{ user_id: string; version: number; created_at: string; updated_at: string }>(sql`
    insert into ${directoryUsers} (directory_id, user_id, user_name, external_id, active, resource)
    select ${directoryId}::uuid, v.user_id, v.user_name, v.external_id, v.active, v.resource
    from ${recordset(records, "user_id uuid, user_name text, external_id text, active boolean, resource jsonb")}
    returning user_id, version, created_at, updated_at`);
  noteInserted("directory_users", inserted.length);
  const byId = new Map(rows.map((r) => [r.userId, r]));
  return inserted.map((r) => {
    const row = byId.get(r.user_id)!;
    return { directoryId, ...row, version: r.version, createdAt: directoryUsers.createdAt.mapFromDriverValue(r.created_at) as Date, updatedAt: directoryUsers.updatedAt.mapFromDriverValue(r.updated_at) as Date };
  });
}

/** Provisions a user (see createBatch); concurrent requests of a directory are written together. */
export async function createScimUser(sc: ScimContext, body: unknown) {
  const parsed = parseUser(body);
  return enqueueCreate(sc, parsed);
}

/** One create on its own transaction: a lone request, and the fallback when a batch hits a conflict. */
async function createSingle(sc: ScimContext, parsed: Parsed) {
  const once = async () => {
    const [result] = await createBatch([{ sc, parsed }]);
    if (result instanceof Error) throw result;
    return result!;
  };
  try {
    return await once();
  } catch (error) {
    // Two different users racing for the same email, or two creates linking the same existing user
    // (by its proven email): the second tries again and now sees the first's user or link.
    const raced = uniqueViolation(error);
    if (raced === "users_email_lower_key" || raced === "directory_users_directory_id_user_id_pk") return once().catch(translateCreateError(parsed));
    return translateCreateError(parsed)(error);
  }
}

const translateCreateError = (parsed: Parsed) => (error: unknown): never => {
  // The unique index decides: identical concurrent POSTs make exactly one user, the rest get 409.
  if (uniqueViolation(error) === "directory_users_user_name_key" || uniqueViolation(error) === "users_email_lower_key") {
    throw new ScimError(409, `A user with userName "${parsed.userName}" already exists in this directory.`, "uniqueness");
  }
  throw error;
};

// Concurrent creates of a directory are written together (group-commit.ts says how). Up to 64 in a
// batch; two batches of a directory at once (they meet only on the directory's and Everyone's
// counts, at the end of each), the second only when 4 creates wait.
type Item = { sc: ScimContext; parsed: Parsed };
let enqueue: ((key: string, item: Item) => Promise<ReturnType<typeof userRepresentation>>) | undefined;
// Made at the first create: the settings are read through env(), which `next build` must not need.
const enqueueCreate = (sc: ScimContext, parsed: Parsed) =>
  (enqueue ??= groupCommit({
    writeBatch: createBatch,
    writeOne: (item: Item) => createSingle(item.sc, item.parsed),
    writers: env().SCIM_BATCH_WRITERS,
    secondWriterAt: env().SCIM_SECOND_WRITER_AT,
    maxBatch: 64,
  }))(sc.directory.id, { sc, parsed });

/**
 * Provisions users in one transaction: each links the user with the same email when one exists and
 * this directory does not already hold them (the SCIM user is our user), else creates one; grants
 * the environment unless inactive. Duplicated userNames come back as 409 errors in their places.
 */
async function createBatch(batch: Item[]): Promise<(ReturnType<typeof userRepresentation> | Error)[]> {
  const { sc } = batch[0]!;
  const { directory } = sc;
  const env = sc.environment;
  const duplicate = (p: Parsed) => new ScimError(409, `A user with userName "${p.userName}" already exists in this directory.`, "uniqueness");
  return getDb().transaction(async (tx) => {
    const results: (ReturnType<typeof userRepresentation> | Error | null)[] = batch.map(() => null);
    const seen = new Set<string>();
    batch.forEach((item, i) => {
      const key = item.parsed.userName.toLowerCase();
      if (seen.has(key)) results[i] = duplicate(item.parsed);
      seen.add(key);
    });
    const names = batch.filter((_, i) => !results[i]).map((b) => b.parsed.userName.toLowerCase());
    const candidates = [...new Set(batch.flatMap((b, i) => (results[i] ? [] : emailCandidates(b.parsed).map((e) => e.toLowerCase()))))];
    const [taken, found] = await Promise.all([
      names.length
        ? tx.select({ name: sql<string>`lower(${directoryUsers.userName})` }).from(directoryUsers).where(and(eq(directoryUsers.directoryId, directory.id), sql`lower(${directoryUsers.userName}) = any(${arrayLiteral(names)}::text[])`))
        : Promise.resolve([]),
      candidates.length
        ? tx
            .select({
              id: users.id,
              email: users.email,
              name: users.name,
              status: users.status,
              emailVerifiedAt: users.emailVerifiedAt,
              emailVerifiedBy: users.emailVerifiedBy,
              emailVerifiedEnvironmentId: users.emailVerifiedEnvironmentId,
              environmentIds: sql<string[]>`array(select a.environment_id from environment_access a where a.user_id = ${users.id})`,
              held: sql<boolean>`${directoryUsers.userId} is not null`,
            })
            .from(users)
            .leftJoin(directoryUsers, and(eq(directoryUsers.userId, users.id), eq(directoryUsers.directoryId, directory.id)))
            .where(sql`lower(${users.email}) = any(${arrayLiteral(candidates)}::text[])`)
        : Promise.resolve([]),
    ]);
    const takenNames = new Set(taken.map((t) => t.name));
    const claimed = new Set<string>();
    const heldNow = new Set(found.filter((f) => f.held).map((f) => f.id));
    type Plan = { index: number; parsed: Parsed; link?: (typeof found)[number]; email?: string; refused?: ScimError };
    const plans: Plan[] = [];
    batch.forEach((item, index) => {
      if (results[index]) return;
      if (takenNames.has(item.parsed.userName.toLowerCase())) {
        results[index] = duplicate(item.parsed);
        return;
      }
      const plan: Plan = { index, parsed: item.parsed };
      for (const candidate of emailCandidates(item.parsed)) {
        const lower = candidate.toLowerCase();
        const existing = found.find((f) => f.email.toLowerCase() === lower);
        if (!existing) {
          if (claimed.has(lower)) continue;
          claimed.add(lower);
          plan.email = candidate;
          break;
        }
        if (!heldNow.has(existing.id)) {
          // Linking by email trusts the address: only one proven by a mailed link, or by a
          // directory or IdP of this environment (an admin's unproven change could pre-seed an
          // account for someone else's address).
          if (!emailVerifiedFor(existing, env.id)) {
            plan.refused = new ScimError(
              409,
              `A user with the email ${existing.email} exists, but that address is not verified; an admin whose scope covers the user can link them, or the user can accept an invitation first.`,
              "uniqueness",
            );
            break;
          }
          // A user no environment holds is account-wide (owners' and admins'): adopting them would put
          // the account in the hands of whoever manages this directory's environment (its email, its
          // suspension), as an environment admin's grant may not (lib/users/bulk.ts).
          // (A user the directories deprovisioned is theirs to bring back, as before: see `revived`.)
          if (existing.environmentIds.length === 0 && existing.status !== "deprovisioned") {
            plan.refused = new ScimError(
              409,
              `A user with the email ${existing.email} exists and can enter no environment (an account-wide user): an owner or admin grants them this environment, then the directory links them.`,
              "uniqueness",
            );
            break;
          }
          heldNow.add(existing.id);
          plan.link = existing;
          break;
        }
      }
      if (plan.refused) {
        results[index] = plan.refused;
        return;
      }
      if (!plan.link && !plan.email) {
        const slug = item.parsed.userName.toLowerCase().replace(/[^a-z0-9._-]+/g, "-").slice(0, 40) || "user";
        plan.email = `${slug}.${randomBytes(4).toString("hex")}@${directory.id}.scim.invalid`;
      }
      plans.push(plan);
    });
    const fresh = plans.filter((p) => !p.link);
    // An access review's exclusion of a user from this environment holds back the directory's
    // grant. Only a linked (existing) user can have one: it is read beside the new users' insert.
    const linkedActive = plans.filter((p) => p.link && p.parsed.active).map((p) => p.link!.id);
    const [inserted, excludedAccess] = await Promise.all([
      insertUserRows(
      tx,
      fresh.map((p) => ({
        email: p.email!,
        name: displayNameOf(p.parsed),
        // Created inactive: nothing to enter, deprovisioned by the directory (which may reactivate it).
        status: p.parsed.active ? ("active" as const) : ("deprovisioned" as const),
        source: "scim" as const,
        externalId: p.parsed.externalId,
        environmentKeys: p.parsed.active ? env.key : "",
        emailProof: p.email!.endsWith(".scim.invalid") ? null : { by: "directory" as const, environmentId: env.id },
      })),
      ),
      accessExclusionsOf(tx, env.id, linkedActive),
    ]);
    const byEmail = new Map(inserted.map((u) => [u.email.toLowerCase(), u]));
    const resolved = plans.map((p) => ({ plan: p, user: p.link ? { id: p.link.id, email: p.link.email, name: p.link.name, status: p.link.status } : byEmail.get(p.email!.toLowerCase())! }));
    // Each request's audit rows carry its own request id and address.
    const auditOf = ({ plan, user }: (typeof resolved)[number]): AuditEntry[] => [
      plan.link
        ? { action: "user.directory_link", targetType: "user", targetId: user.id, targetLabel: user.email, environment: env, after: { directory: directory.name, userName: plan.parsed.userName } }
        : userCreatedEntry(user as User, { environments: plan.parsed.active ? [env.key] : [], directory: directory.name }, env),
      ...(plan.parsed.active && !excludedAccess.has(user.id) ? [environmentAccessEntry("grant", user, env, { after: { source: "scim", directory: directory.name } })] : []),
      ...(excludedAccess.has(user.id) ? [environmentAccessEntry("grant_excluded", user, env, { after: { directory: directory.name, reason: exclusionNote(excludedAccess.get(user.id)!) } })] : []),
    ];
    // A linked user the directories had deprovisioned comes back when this directory may change
    // their account (every environment they can enter is this one); an admin's suspension stays.
    const revived = resolved.filter((r) => r.plan.link && r.plan.parsed.active && r.plan.link.status === "deprovisioned" && !denialReason(sc.ctx.actor, "users", "write", r.plan.link.environmentIds));
    const revivedIds = revived.length ? await setUserStatusRows(tx, revived.map((r) => r.user.id), "active", ["deprovisioned"]) : [];
    for (const r of revived) if (revivedIds.includes(r.user.id)) r.user.status = "active";
    const reactivations = revived
      .filter((r) => revivedIds.includes(r.user.id))
      .map((r): AuditEntry => ({ action: "user.reactivate", targetType: "user", targetId: r.user.id, targetLabel: r.user.email, environment: env, before: { status: "deprovisioned" }, after: { status: "active", directory: directory.name } }));
    // Last, in one round trip, the inserts whose triggers update rows every create of this directory
    // updates (Everyone's member count, the directory's user count): those row locks are then held
    // only until the commit, so the next batch's statements overlap this one's end; the directory
    // records and the audit rows go with them (none depends on another: the users exist by now).
    const active = resolved.filter((r) => r.plan.parsed.active && !excludedAccess.has(r.user.id)).map((r) => r.user.id);
    const [, rows] = await Promise.all([
      insertAccessRows(tx, active, env.id, "scim", directory.id),
      insertDirectoryUserRows(
        tx,
        directory.id,
        resolved.map(({ plan, user }) => ({ userId: user.id, userName: plan.parsed.userName, externalId: plan.parsed.externalId ?? null, active: plan.parsed.active, resource: plan.parsed.resource })),
      ),
      recordAuditOfMany(tx, [...resolved.map((r) => ({ ctx: batch[r.plan.index]!.sc.ctx, entries: auditOf(r) })), { ctx: sc.ctx, entries: reactivations }]),
    ]);
    const rowOf = new Map(rows.map((r) => [r.userId, r]));
    for (const { plan, user } of resolved) results[plan.index] = userRepresentation(batch[plan.index]!.sc, { du: rowOf.get(user.id)!, user });
    return results as (ReturnType<typeof userRepresentation> | Error)[];
  });
}

/** Revokes the directory's environment (its groups go with it, sessions end); suspends when nothing remains. */
async function deprovision(tx: Tx, sc: ScimContext, user: Pick<User, "id" | "email">, audit: AuditEntry[]) {
  const env = await requireEnvironment(tx, sc.directory.environmentId);
  const removed = await deleteAccessRows(tx, [user.id], env.id);
  if (removed.length) audit.push(environmentAccessEntry("revoke", user, env, { after: { directory: sc.directory.name } }));
  const [left] = await tx.select({ n: sql<number>`count(*)::int` }).from(environmentAccess).where(eq(environmentAccess.userId, user.id));
  if (left!.n === 0) {
    // Deprovisioned, not suspended: a directory may bring the user back; only an admin lifts a suspension.
    const [changed] = await setUserStatusRows(tx, [user.id], "deprovisioned", ["active", "invited"]);
    if (changed) audit.push({ action: "user.deprovision", targetType: "user", targetId: user.id, targetLabel: user.email, environment: env, after: { status: "deprovisioned", reason: "no environment access remains" } });
  }
}

/**
 * Whether the directory may change the user's account-wide fields (status, name): only when every
 * environment the user can enter is the directory's own. The reason when not.
 */
async function accountWideDenial(tx: Tx, sc: ScimContext, userId: string): Promise<string | null> {
  const reason = denialReason(sc.ctx.actor, "users", "write", await environmentIdsOf(tx, userId));
  return reason && `This user can also enter an environment outside ${sc.directory.name}'s; ${reason.charAt(0).toLowerCase()}${reason.slice(1)}`;
}

async function reprovision(tx: Tx, sc: ScimContext, user: Pick<User, "id" | "email" | "status">, audit: AuditEntry[]): Promise<Pick<User, "id" | "email" | "status">> {
  const env = await requireEnvironment(tx, sc.directory.environmentId);
  if (user.status === "suspended") {
    // An admin's suspension (a compromised account, a leaver) is not a directory's to lift.
    throw new ScimError(403, `${user.email} was suspended by an administrator; a directory cannot reactivate the account. Ask an admin of the console to reactivate it.`);
  }
  if (user.status === "deprovisioned") {
    const denied = await accountWideDenial(tx, sc, user.id);
    if (denied) throw new ScimError(403, denied);
    await setUserStatusRows(tx, [user.id], "active", ["deprovisioned"]);
    audit.push({ action: "user.reactivate", targetType: "user", targetId: user.id, targetLabel: user.email, environment: env, before: { status: "deprovisioned" }, after: { status: "active" } });
    user = { ...user, status: "active" };
  }
  const excluded = (await accessExclusionsOf(tx, env.id, [user.id])).get(user.id);
  if (excluded) {
    audit.push(environmentAccessEntry("grant_excluded", user, env, { after: { directory: sc.directory.name, reason: exclusionNote(excluded) } }));
    return user;
  }
  const granted = await insertAccessRows(tx, [user.id], env.id, "scim", sc.directory.id);
  if (granted.length) audit.push(environmentAccessEntry("grant", user, env, { after: { source: "scim", directory: sc.directory.name } }));
  return user;
}

async function writeUser(tx: Tx, sc: ScimContext, row: Row, parsed: Parsed, action: "scim.user_replace" | "scim.user_patch") {
  const { directory } = sc;
  if (parsed.userName.toLowerCase() !== row.du.userName.toLowerCase() && (await userNameTaken(tx, directory.id, parsed.userName, row.du.userId))) {
    throw new ScimError(409, `A user with userName "${parsed.userName}" already exists in this directory.`, "uniqueness");
  }
  const audit: AuditEntry[] = [];
  const [du] = await tx
    .update(directoryUsers)
    .set({ userName: parsed.userName, externalId: parsed.externalId, active: parsed.active, resource: parsed.resource, version: sql`${directoryUsers.version} + 1`, updatedAt: sql`now()` })
    .where(and(eq(directoryUsers.directoryId, directory.id), eq(directoryUsers.userId, row.du.userId)))
    .returning();
  const name = displayNameOf(parsed);
  let user: Row["user"] = row.user;
  // The name is account-wide: it follows the directory only for users who can enter no environment
  // but the directory's. Otherwise the directory keeps its own view (its resource) and the trail says why.
  const nameKept = name !== row.user.name ? await accountWideDenial(tx, sc, row.user.id) : null;
  if (name !== row.user.name && !nameKept) {
    const [renamed] = await renameUserRows(tx, [{ id: row.user.id, name }]);
    user = renamed!;
  }
  if (row.du.active && !parsed.active) await deprovision(tx, sc, user, audit);
  if (!row.du.active && parsed.active) user = { ...user, ...(await reprovision(tx, sc, user, audit)) };
  const env = await requireEnvironment(tx, directory.environmentId);
  audit.push({
    action,
    targetType: "user",
    targetId: row.user.id,
    targetLabel: row.user.email,
    environment: env,
    before: { userName: row.du.userName, active: row.du.active, name: row.user.name },
    after: { userName: parsed.userName, active: parsed.active, name: user.name, ...(nameKept ? { nameNotApplied: nameKept } : {}) },
  });
  await recordAuditMany(tx, sc.ctx, audit);
  return userRepresentation(sc, { du: du!, user }, await groupsOfUser(tx, directory.id, row.du.userId));
}

export async function replaceScimUser(sc: ScimContext, id: string, body: unknown, ifMatch?: string | null) {
  const parsed = parseUser(body);
  return getDb().transaction(async (tx) => {
    const row = await loadRow(tx, sc.directory.id, id, true);
    if (!row) throw new ScimError(404, `No user ${id} in this directory.`);
    checkIfMatch(ifMatch, row.du.version);
    return writeUser(tx, sc, row, parsed, "scim.user_replace");
  });
}

/** PATCH: the operations applied to the stored resource, then written as one replacement. */
export async function patchScimUser(sc: ScimContext, id: string, body: unknown, ifMatch?: string | null) {
  return getDb().transaction(async (tx) => {
    const row = await loadRow(tx, sc.directory.id, id, true);
    if (!row) throw new ScimError(404, `No user ${id} in this directory.`);
    checkIfMatch(ifMatch, row.du.version);
    const current = { ...row.du.resource, userName: row.du.userName, active: row.du.active, ...(row.du.externalId ? { externalId: row.du.externalId } : {}) };
    // A user's groups are the groups' business: a PATCH of a group's members changes them.
    const patched = withoutReadOnly(applyPatch(current, body), row.du.userId, ["groups"]);
    return writeUser(tx, sc, row, parseUser(patched), "scim.user_patch");
  });
}

/** DELETE: deprovisions (environment revoked, memberships gone, sessions ended) and forgets the SCIM resource. */
export async function deleteScimUser(sc: ScimContext, id: string, ifMatch?: string | null) {
  await getDb().transaction(async (tx) => {
    const row = await loadRow(tx, sc.directory.id, id, true);
    if (!row) throw new ScimError(404, `No user ${id} in this directory.`);
    checkIfMatch(ifMatch, row.du.version);
    const audit: AuditEntry[] = [];
    await deprovision(tx, sc, row.user, audit);
    await tx.delete(directoryUsers).where(and(eq(directoryUsers.directoryId, sc.directory.id), eq(directoryUsers.userId, row.du.userId)));
    const env = await requireEnvironment(tx, sc.directory.environmentId);
    audit.push({ action: "scim.user_delete", targetType: "user", targetId: row.user.id, targetLabel: row.user.email, environment: env, before: { userName: row.du.userName } });
    await recordAuditMany(tx, sc.ctx, audit);
  });
}

export type ListQuery = { filter?: string | null; startIndex?: number; count?: number };

const userColumns = {
  userId: sql`${directoryUsers.userId}`,
  userName: sql`${directoryUsers.userName}`,
  externalId: sql`${directoryUsers.externalId}`,
  active: sql`${directoryUsers.active}`,
  createdAt: sql`${directoryUsers.createdAt}`,
  updatedAt: sql`${directoryUsers.updatedAt}`,
  resource: sql`${directoryUsers.resource}`,
};

/** Lists the directory's users, filtered and paged in SQL (startIndex is 1-based, count clamped). */
export async function listScimUsers(sc: ScimContext, query: ListQuery) {
  const where = listWhere(eq(directoryUsers.directoryId, sc.directory.id)!, query.filter, userResolver(userColumns));
  const { startIndex, count } = pageOf(query);
  const db = getDb();
  const userCount = sql<number>`(select ${directories.userCount} from ${directories} where ${directories.id} = ${sc.directory.id})`;
  const page = () =>
    db
      .select({
        du: directoryUsers,
        user: { id: users.id, email: users.email, name: users.name, status: users.status },
        // With a filter the total rides along with the page: one query, one round trip.
        // Without one, the directory's user count kept by a trigger (migration 0013) rides along.
        total: query.filter ? sql<number>`(count(*) over ())::int` : userCount,
      })
      .from(directoryUsers)
      .innerJoin(users, eq(users.id, directoryUsers.userId))
      .where(where)
      .orderBy(asc(directoryUsers.createdAt), asc(directoryUsers.userId))
      .offset(startIndex - 1)
      .limit(count);
  const countAll = async () => (await db.select({ n: sql<number>`count(*)::int` }).from(directoryUsers).where(where))[0]!.n;
  let rows: Awaited<ReturnType<typeof page>> = [];
  let total: number;
  if (!query.filter) {
    rows = count === 0 ? [] : await page();
    total = rows.length ? rows[0]!.total : (await db.select({ n: userCount }).from(sql`(select 1) as one`))[0]!.n;
  } else if (count === 0) {
    total = await countAll();
  } else {
    rows = await page();
    total = rows.length ? rows[0]!.total : await countAll();
  }
  return {
    schemas: [SCHEMA.listResponse],
    totalResults: total,
    startIndex,
    itemsPerPage: rows.length,
    Resources: rows.map((row) => userRepresentation(sc, row)),
  };
}
