import "server-only";
import { and, asc, desc, eq, sql } from "drizzle-orm";
import { z } from "zod";
import { getDb } from "@/db/client";
import { DIRECTORY_PATCH_ANSWERS } from "@/db/enums";
import { directories, environments, identityProviders, scimRequestLog, type Directory } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { decisionCache } from "@/lib/access/decision-cache";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { requireEnvironment } from "@/lib/environments";
import { publicOrigin } from "@/env";
import { NotFoundError, ValidationError } from "@/lib/errors";
import { authorize } from "@/lib/permissions";
import { parseInput, uuidSchema } from "@/lib/validation";

// A directory is one SCIM endpoint through which an IdP pushes users and groups into one
// environment. Its bearer token is shown once; only its SHA-256 is kept. Rotating replaces the hash,
// so the old token stops at once; disabling refuses every request until re-enabled.

const PREFIX = "scim_";

export const createDirectoryInput = z.object({
  environmentId: uuidSchema,
  name: z.string().trim().min(1, "Name the directory.").max(100, "A name has at most 100 characters."),
  // For the record: the IdP that feeds it (optional).
  identityProviderId: uuidSchema.nullable().default(null),
  logRetentionDays: z.number().int().min(1, "Keep the log at least a day.").max(365, "At most a year.").default(30),
  patchAnswer: z.enum(DIRECTORY_PATCH_ANSWERS, { error: "Choose what a PATCH answers." }).default("resource"),
});

export type DirectoryView = Omit<Directory, "tokenHash"> & { baseUrl: string; identityProviderName: string | null };

export function scimBaseUrl(directoryId: string): string {
  return `${publicOrigin()}/scim/v2/${directoryId}`;
}

const newToken = () => newSecretToken(PREFIX);
const hintOf = (token: string) => `${token.slice(0, PREFIX.length + 4)}…${token.slice(-4)}`;

const snapshot = (d: Directory) => ({ name: d.name, status: d.status, tokenHint: d.tokenHint, identityProviderId: d.identityProviderId, logRetentionDays: d.logRetentionDays, patchAnswer: d.patchAnswer });

/** Creates a directory for an environment; the token is returned once. */
export async function createDirectory(ctx: DomainContext, input: unknown): Promise<{ directory: DirectoryView; token: string }> {
  const data = parseInput(createDirectoryInput, input);
  authorize(ctx.actor, "directories", "write", [data.environmentId]);
  const token = newToken();
  return inTransaction(async (tx) => {
    const env = await requireEnvironment(tx, data.environmentId);
    if (data.identityProviderId) {
      const [idp] = await tx.select({ id: identityProviders.id }).from(identityProviders).where(eq(identityProviders.id, data.identityProviderId));
      if (!idp) throw ValidationError.field("identityProviderId", "That identity provider does not exist.");
    }
    const [directory] = await tx
      .insert(directories)
      .values({ environmentId: env.id, name: data.name, identityProviderId: data.identityProviderId, tokenHash: hashToken(token), tokenHint: hintOf(token), logRetentionDays: data.logRetentionDays, patchAnswer: data.patchAnswer })
      .returning();
    await recordAudit(tx, ctx, { action: "directory.create", targetType: "directory", targetId: directory!.id, targetLabel: directory!.name, environment: env, after: snapshot(directory!) });
    return { directory: await view(directory!), token };
  });
}

async function lockDirectory(tx: Parameters<Parameters<typeof inTransaction>[0]>[0], ctx: DomainContext, id: string): Promise<Directory> {
  const parsed = uuidSchema.safeParse(id);
  if (!parsed.success) throw new NotFoundError("Directory not found.");
  const [directory] = await tx.select().from(directories).where(eq(directories.id, parsed.data)).for("update");
  if (!directory) throw new NotFoundError("Directory not found.");
  authorize(ctx.actor, "directories", "write", [directory.environmentId]);
  return directory;
}

const directorySettingsInput = z.object({
  patchAnswer: z.enum(DIRECTORY_PATCH_ANSWERS, { error: "Choose what a PATCH answers." }),
});

/** What a SCIM PATCH of this directory answers (the resource, or 204 for Microsoft Entra ID). */
export async function updateDirectorySettings(ctx: DomainContext, id: string, input: unknown): Promise<DirectoryView> {
  const data = parseInput(directorySettingsInput, input);
  authorize(ctx.actor, "directories", "write", "any");
  return inTransaction(async (tx) => {
    const before = await lockDirectory(tx, ctx, id);
    if (before.patchAnswer === data.patchAnswer) return view(before);
    const [after] = await tx.update(directories).set({ patchAnswer: data.patchAnswer, updatedAt: sql`now()` }).where(eq(directories.id, before.id)).returning();
    const env = await requireEnvironment(tx, before.environmentId);
    await recordAudit(tx, ctx, { action: "directory.update", targetType: "directory", targetId: before.id, targetLabel: before.name, environment: env, before: { patchAnswer: before.patchAnswer }, after: { patchAnswer: data.patchAnswer } });
    return view(after!);
  });
}

/** A new token; the old one stops working at once. */
export async function rotateDirectoryToken(ctx: DomainContext, id: string): Promise<{ directory: DirectoryView; token: string }> {
  authorize(ctx.actor, "directories", "write", "any");
  const token = newToken();
  return inTransaction(async (tx) => {
    const before = await lockDirectory(tx, ctx, id);
    const [after] = await tx
      .update(directories)
      .set({ tokenHash: hashToken(token), tokenHint: hintOf(token), updatedAt: sql`now()` })
      .where(eq(directories.id, before.id))
      .returning();
    const env = await requireEnvironment(tx, before.environmentId);
    await recordAudit(tx, ctx, { action: "directory.rotate_token", targetType: "directory", targetId: before.id, targetLabel: before.name, environment: env, before: snapshot(before), after: snapshot(after!) });
    return { directory: await view(after!), token };
  });
}

export async function setDirectoryStatus(ctx: DomainContext, id: string, status: unknown): Promise<DirectoryView> {
  const next = parseInput(z.enum(["active", "disabled"], { error: "Choose active or disabled." }), status);
  authorize(ctx.actor, "directories", "write", "any");
  return inTransaction(async (tx) => {
    const before = await lockDirectory(tx, ctx, id);
    if (before.status === next) return view(before);
    const [after] = await tx.update(directories).set({ status: next, updatedAt: sql`now()` }).where(eq(directories.id, before.id)).returning();
    const env = await requireEnvironment(tx, before.environmentId);
    await recordAudit(tx, ctx, {
      action: next === "disabled" ? "directory.disable" : "directory.enable",
      targetType: "directory",
      targetId: before.id,
      targetLabel: before.name,
      environment: env,
      before: snapshot(before),
      after: snapshot(after!),
    });
    return view(after!);
  });
}

async function view(d: Directory): Promise<DirectoryView> {
  const { tokenHash: _hash, ...rest } = d;
  const [idp] = d.identityProviderId ? await getDb().select({ name: identityProviders.name }).from(identityProviders).where(eq(identityProviders.id, d.identityProviderId)) : [];
  return { ...rest, baseUrl: scimBaseUrl(d.id), identityProviderName: idp?.name ?? null };
}

/** A directory by id in whatever environment it is, with that environment's key (the caller authorizes). */
export async function getDirectory(id: string): Promise<{ directory: DirectoryView; environmentKey: string } | undefined> {
  const parsed = uuidSchema.safeParse(id);
  if (!parsed.success) return undefined;
  const [row] = await getDb().select({ directory: directories, environmentKey: environments.key }).from(directories).innerJoin(environments, eq(environments.id, directories.environmentId)).where(eq(directories.id, parsed.data));
  return row ? { directory: await view(row.directory), environmentKey: row.environmentKey } : undefined;
}

export async function listDirectories(environmentId: string): Promise<DirectoryView[]> {
  const rows = await getDb()
    .select({ directory: directories, idpName: identityProviders.name })
    .from(directories)
    .leftJoin(identityProviders, eq(identityProviders.id, directories.identityProviderId))
    .where(eq(directories.environmentId, environmentId))
    .orderBy(asc(sql`lower(${directories.name})`));
  return rows.map(({ directory: { tokenHash: _hash, ...rest }, idpName }) => ({ ...rest, baseUrl: scimBaseUrl(rest.id), identityProviderName: idpName }));
}

/**
 * The directory a SCIM request speaks for: the token must be this directory's current token and the
 * directory active. A token of one directory sees nothing of another (null: the caller answers 401/404).
 */
export async function authenticateDirectory(
  directoryId: string,
  token: string | null,
): Promise<{ directory: Directory; environment: { id: string; key: string }; actor: Actor } | null> {
  if (!token || !token.startsWith(PREFIX) || token.length > 200 || !uuidSchema.safeParse(directoryId).success) return null;
  const hash = hashToken(token);
  const read = async () =>
    (
      await getDb()
        .select({ directory: directories, environment: { id: environments.id, key: environments.key } })
        .from(directories)
        .innerJoin(environments, eq(environments.id, directories.environmentId))
        .where(and(eq(directories.tokenHash, hash), eq(directories.id, directoryId), eq(directories.status, "active")))
    )[0];
  // Every SCIM request starts here: from memory when the decision cache is live (a rotated token, a
  // disabled or changed directory reaches it at commit over LISTEN, migration 0026), else one query.
  const cache = decisionCache();
  const cached = cache ? await cache.lookup("directory", `${directoryId}|${hash}`, (r: NonNullable<Awaited<ReturnType<typeof read>>>) => [r.directory.id], read) : null;
  const row = cached === null ? await read() : cached;
  if (!row) return null;
  const { directory, environment } = row;
  return { directory, environment, actor: { type: "directory", id: directory.id, label: directory.name, environmentIds: [directory.environmentId] } };
}

export type DirectoryHealth = { users: number; groups: number; requests24h: number; errors24h: number; lastError: string | null };

/** Sync health per directory: what it provisioned, and how its last day of requests went. */
export async function directoryHealth(environmentId: string): Promise<Map<string, DirectoryHealth>> {
  const rows = await getDb().execute<{ id: string; users: number; groups: number; requests: number; errors: number; last_error: string | null }>(sql`
    select d.id,
      (select count(*) from directory_users du where du.directory_id = d.id)::int as users,
      (select count(*) from groups g where g.directory_id = d.id)::int as groups,
      (select count(*) from scim_request_log l where l.directory_id = d.id and l.created_at > now() - interval '1 day')::int as requests,
      (select count(*) from scim_request_log l where l.directory_id = d.id and l.created_at > now() - interval '1 day' and l.status >= 400)::int as errors,
      (select l.method || ' ' || l.path || ' → ' || l.status from scim_request_log l where l.directory_id = d.id and l.status >= 400 order by l.created_at desc limit 1) as last_error
    from directories d where d.environment_id = ${environmentId}`);
  return new Map(rows.map((r) => [r.id, { users: r.users, groups: r.groups, requests24h: r.requests, errors24h: r.errors, lastError: r.last_error }]));
}

export async function requestLog(environmentId: string, directoryId: string, limit = 200) {
  const parsed = uuidSchema.safeParse(directoryId);
  if (!parsed.success) throw new NotFoundError("Directory not found.");
  const [directory] = await getDb().select().from(directories).where(and(eq(directories.id, parsed.data), eq(directories.environmentId, environmentId)));
  if (!directory) throw new NotFoundError("Directory not found.");
  const entries = await getDb().select().from(scimRequestLog).where(eq(scimRequestLog.directoryId, directory.id)).orderBy(desc(scimRequestLog.createdAt), desc(scimRequestLog.id)).limit(limit);
  const { tokenHash: _hash, ...rest } = directory;
  return { directory: { ...rest, baseUrl: scimBaseUrl(directory.id) }, entries };
}

/** Drops request-log entries older than each directory's retention (hourly upkeep). */
export async function pruneRequestLogs(): Promise<number> {
  const deleted = await getDb().execute<{ n: number }>(sql`
    with gone as (
      delete from scim_request_log l using directories d
      where d.id = l.directory_id and l.created_at < now() - make_interval(days => d.log_retention_days)
      returning 1)
    select count(*)::int as n from gone`);
  return deleted[0]?.n ?? 0;
}
