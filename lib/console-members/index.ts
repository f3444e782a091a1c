import "server-only";
import { and, asc, eq, gt, isNull, ne, sql, type SQL } from "drizzle-orm";
import { z } from "zod";
import { getDb, type Executor, type Tx } from "@/db/client";
import { CONSOLE_ROLE_LABELS, CONSOLE_ROLES, type ConsoleMemberStatus, type ConsoleRole } from "@/db/enums";
import { consoleInvitations, consoleMemberEnvironments, consolePasswordResets, secondFactors, consoleMembers, consoleSessions, environments, identityProviders, type ConsoleMember } from "@/db/schema";
import type { Actor, DomainContext } from "@/lib/auth/actor";
import { CONSOLE_IDLE_MINUTES } from "@/lib/auth/console-sign-in";
import { hashPassword } from "@/lib/auth/password";
import { hashToken, newSecretToken } from "@/lib/auth/secret-token";
import { revokeTokensActingFor } from "@/lib/api-tokens";
import { recordAudit } from "@/lib/audit/record";
import { inTransaction } from "@/lib/domain/transaction";
import { assertNewPassword } from "@/lib/end-user/password-strength";
import { requireEnvironments, type EnvironmentRef } from "@/lib/environments";
import { DomainError, ForbiddenError, NotFoundError, ValidationError } from "@/lib/errors";
import { sendMail } from "@/lib/mail";
import { authorize, consoleMemberDenialReason } from "@/lib/permissions";
import { emailSchema, parseInput, personNameSchema, uuidSchema } from "@/lib/validation";
import { publicOrigin } from "@/env";

// Console members: who may use the console, in which role. Owners and admins invite, change,
// suspend, reactivate and remove them (only owners touch owners: lib/permissions.ts,
// consoleMemberDenialReason). Every change is audited in its transaction; the last active owner
// cannot be removed, demoted or suspended; a member's sessions end when they are suspended,
// removed, or their role or scope changes.

export const CONSOLE_INVITE_DAYS = 7;

export const createConsoleMemberInput = z.object({
  email: emailSchema,
  name: personNameSchema,
  role: z.enum(CONSOLE_ROLES, { error: "Choose a role." }),
  password: z.string().min(12, "Use at least 12 characters.").max(256, "At most 256 characters."),
  environmentIds: z.array(uuidSchema).max(100).default([]),
});

const roleSchema = z.enum(CONSOLE_ROLES, { error: `Choose a role: ${CONSOLE_ROLES.join(", ")}.` });
const environmentIdsSchema = z.array(uuidSchema, { error: "A list of environment ids." }).max(100, "At most 100 environments.").default([]);

export const inviteConsoleMemberInput = z.object({
  email: emailSchema,
  name: z.string({ error: "A name is text." }).trim().max(200, "A name has at most 200 characters.").optional().describe("Optional; the invitee can change it when accepting"),
  role: roleSchema,
  environmentIds: environmentIdsSchema.describe("The environments of an environment admin (at least one); empty for the other roles"),
});

export const changeConsoleMemberRoleInput = z.object({
  role: roleSchema,
  environmentIds: environmentIdsSchema.describe("The environments of an environment admin (at least one); empty for the other roles"),
});

const acceptInput = z.object({
  token: z.string(),
  name: personNameSchema,
  password: z.string().max(1000),
  confirm: z.string().max(1000),
});

const invitationTokenSchema = z.string().regex(/^[A-Za-z0-9_-]{20,100}$/);

/** A refusal that protects the account from having no owner left. */
export class LastOwnerError extends DomainError {
  constructor(email: string, verb: "removed" | "suspended" | "demoted") {
    super("last_owner", 409, `${email} is the last active owner and cannot be ${verb}; make another member an owner first.`);
  }
}

/** An environment admin works in at least one environment; the other roles in none (they are account-wide). */
function checkScope(role: ConsoleRole, environmentIds: readonly string[]) {
  if (role === "environment_admin" && environmentIds.length === 0) {
    throw ValidationError.field("environmentIds", "An environment admin needs at least one environment.");
  }
  if (role !== "environment_admin" && environmentIds.length > 0) {
    throw ValidationError.field("environmentIds", `${CONSOLE_ROLE_LABELS[role]}s are not limited to environments; only an environment admin is.`);
  }
}

function authorizeMemberChange(actor: Actor, roles: { current?: ConsoleRole; next?: ConsoleRole } = {}) {
  const reason = consoleMemberDenialReason(actor, roles);
  if (reason) throw new ForbiddenError(reason);
}

/**
 * Member changes are serialized by one transaction-scoped advisory lock, so two owners demoting
 * each other at once cannot both pass the last-owner check.
 */
export async function lockMembers(tx: Executor) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext('console_members'))`);
}

async function loadMember(tx: Executor, memberId: string) {
  const id = uuidSchema.safeParse(memberId);
  if (!id.success) throw new NotFoundError("No such console member.");
  const [member] = await tx.select().from(consoleMembers).where(eq(consoleMembers.id, id.data));
  if (!member) throw new NotFoundError("No such console member.");
  const envs = await tx
    .select({ id: environments.id, key: environments.key })
    .from(consoleMemberEnvironments)
    .innerJoin(environments, eq(environments.id, consoleMemberEnvironments.environmentId))
    .where(eq(consoleMemberEnvironments.memberId, member.id))
    .orderBy(asc(environments.position));
  return { member, environments: envs };
}

async function refuseLastOwner(tx: Executor, member: ConsoleMember, verb: "removed" | "suspended" | "demoted") {
  if (member.role !== "owner" || member.status !== "active") return;
  const [row] = await tx
    .select({ n: sql<number>`count(*)::int` })
    .from(consoleMembers)
    .where(and(eq(consoleMembers.role, "owner"), eq(consoleMembers.status, "active")));
  if ((row?.n ?? 0) <= 1) throw new LastOwnerError(member.email, verb);
}

/** Ends the open console sessions that `which` selects; returns how many. */
async function endOpenSessions(tx: Executor, which: SQL | undefined): Promise<number> {
  const ended = await tx
    .update(consoleSessions)
    .set({ revokedAt: sql`now()` })
    .where(and(which, isNull(consoleSessions.revokedAt), gt(consoleSessions.expiresAt, sql`now()`)))
    .returning({ id: consoleSessions.id });
  return ended.length;
}

/** Ends every open console session of the member (`except`: but that one, the member's own current session); returns how many. */
export function endMemberSessions(tx: Executor, memberId: string, options: { except?: string } = {}): Promise<number> {
  return endOpenSessions(tx, and(eq(consoleSessions.memberId, memberId), options.except ? ne(consoleSessions.id, options.except) : undefined));
}

/**
 * Ends the open console sessions that a change of how members sign in no longer allows: those
 * opened by `method`, of every member or (`exceptOwners`) of members who are not owners. Returns how many.
 */
export function endConsoleSessionsBy(tx: Executor, filter: { method: "password" | "sso"; exceptOwners?: boolean }): Promise<number> {
  return endOpenSessions(
    tx,
    and(eq(consoleSessions.method, filter.method), filter.exceptOwners ? sql`${consoleSessions.memberId} in (select id from console_members where role <> 'owner')` : undefined),
  );
}

/**
 * Voids the member's unused "forgot password" links (lib/console-members/own-account.ts): when their
 * password is set another way, and when they are suspended or their role changes (a link asked for
 * before must not outlive the change, nor come back with a reactivation).
 */
export async function voidResetLinks(tx: Executor, memberId: string): Promise<void> {
  await tx
    .update(consolePasswordResets)
    .set({ usedAt: sql`now()` })
    .where(and(eq(consolePasswordResets.memberId, memberId), isNull(consolePasswordResets.usedAt)));
}

/** Voids every unused link a member asked for themselves: owners turned self-service reset off (lib/second-factor). Owners' links stay. */
export async function voidSelfServiceResetLinks(tx: Executor): Promise<number> {
  const voided = await tx
    .update(consolePasswordResets)
    .set({ usedAt: sql`now()` })
    .where(and(isNull(consolePasswordResets.usedAt), eq(consolePasswordResets.sentByOwner, false), gt(consolePasswordResets.expiresAt, sql`now()`)))
    .returning({ id: consolePasswordResets.id });
  return voided.length;
}

/** The environments named, in the console's order (unknown ids are a field error). */
async function scopeOf(tx: Executor, ids: readonly string[]): Promise<EnvironmentRef[]> {
  return (await requireEnvironments(tx, ids)).sort((a, b) => a.position - b.position);
}

/** The ids of the environments a member is limited to, sorted. */
export async function scopeIds(tx: Executor, memberId: string): Promise<string[]> {
  const rows = await tx.select({ id: consoleMemberEnvironments.environmentId }).from(consoleMemberEnvironments).where(eq(consoleMemberEnvironments.memberId, memberId));
  return rows.map((r) => r.id).sort();
}

export async function setScope(tx: Executor, memberId: string, envs: readonly EnvironmentRef[]) {
  await tx.delete(consoleMemberEnvironments).where(eq(consoleMemberEnvironments.memberId, memberId));
  if (envs.length) await tx.insert(consoleMemberEnvironments).values(envs.map((e) => ({ memberId, environmentId: e.id })));
}

/** A new one-time invitation link for the member (any earlier unused one stops working). */
async function issueInvitation(tx: Executor, memberId: string): Promise<{ token: string; expiresAt: Date }> {
  await tx.update(consoleInvitations).set({ usedAt: sql`now()` }).where(and(eq(consoleInvitations.memberId, memberId), isNull(consoleInvitations.usedAt)));
  const token = newSecretToken();
  const [row] = await tx
    .insert(consoleInvitations)
    .values({ memberId, tokenHash: hashToken(token), expiresAt: sql`now() + make_interval(days => ${CONSOLE_INVITE_DAYS})` })
    .returning({ expiresAt: consoleInvitations.expiresAt });
  return { token, expiresAt: row!.expiresAt };
}

function invitationMail(member: Pick<ConsoleMember, "id" | "email" | "name" | "role">, envKeys: string[], token: string) {
  const scope = envKeys.length ? ` of ${envKeys.map((k) => k.toUpperCase()).join(", ")}` : "";
  return {
    to: member.email,
    consoleMemberId: member.id,
    subject: "You are invited to the identity console",
    text:
      `Hello ${member.name},\n\nYou are invited to the identity console as ${CONSOLE_ROLE_LABELS[member.role].toLowerCase()}${scope}.\n` +
      `Set your password with this link (it works once and expires in ${CONSOLE_INVITE_DAYS} days), then sign in:\n\n` +
      `${publicOrigin()}/sign-in/invitation/${token}\n`,
  };
}

// ---- Reading ----------------------------------------------------------------

export type ConsoleMemberRow = {
  id: string;
  email: string;
  name: string;
  role: ConsoleRole;
  status: ConsoleMemberStatus;
  environments: { id: string; key: string }[];
  lastSignInAt: Date | null;
  /** Open console sessions (not ended, not expired, not idle). */
  activeSessions: number;
  /** The kinds of the member's confirmed second factors ("totp", "passkey"), oldest first. */
  secondFactors: string[];
  /** When the pending invitation link expires (invited members). */
  invitationExpiresAt: Date | null;
  /** The IdP the member signs in through (console SSO: their role follows its groups); null for password members. */
  singleSignOn: string | null;
  /** Whether the member has a console password (one who arrived by console SSO has none). */
  hasPassword: boolean;
  createdAt: Date;
};

const ROLE_ORDER = sql<number>`array_position(array['owner','admin','environment_admin','reviewer']::text[], ${consoleMembers.role})`;

// Drizzle writes a single-table query's columns unqualified, so the correlated subqueries name
// console_members.id themselves.
function memberRows(executor: Executor) {
  return executor
    .select({
      id: consoleMembers.id,
      email: consoleMembers.email,
      name: consoleMembers.name,
      role: consoleMembers.role,
      status: consoleMembers.status,
      environments: sql<{ id: string; key: string }[]>`coalesce((select json_agg(json_build_object('id', e.id, 'key', e.key) order by e.position)
        from ${consoleMemberEnvironments} me join ${environments} e on e.id = me.environment_id where me.member_id = console_members.id), '[]'::json)`,
      lastSignInAt: consoleMembers.lastSignInAt,
      activeSessions: sql<number>`(select count(*)::int from ${consoleSessions} s where s.member_id = console_members.id and s.revoked_at is null
        and s.expires_at > now() and s.last_seen_at > now() - make_interval(mins => ${CONSOLE_IDLE_MINUTES}))`,
      invitationExpiresAt: sql<string | null>`(select max(i.expires_at) from ${consoleInvitations} i where i.member_id = console_members.id and i.used_at is null)`,
      secondFactors: sql<string[]>`coalesce((select array_agg(f.kind order by f.created_at) from ${secondFactors} f where f.member_id = console_members.id and f.confirmed_at is not null), '{}')`,
      singleSignOn: sql<string | null>`(select i.name from ${identityProviders} i where i.id = console_members.sso_identity_provider_id)`,
      hasPassword: sql<boolean>`(console_members.password_hash is not null)`,
      createdAt: consoleMembers.createdAt,
    })
    .from(consoleMembers);
}

function toRow(r: Awaited<ReturnType<typeof memberRows>>[number]): ConsoleMemberRow {
  return {
    ...r,
    invitationExpiresAt: r.invitationExpiresAt ? new Date(r.invitationExpiresAt) : null,
  };
}

/** Every console member (owners first), with last sign-in, open sessions, second factors and pending invitation. */
export async function listConsoleMembers(actor: Actor, executor: Executor = getDb()): Promise<ConsoleMemberRow[]> {
  authorize(actor, "console_members", "read");
  const rows = await memberRows(executor).orderBy(ROLE_ORDER, asc(sql`lower(${consoleMembers.name})`), asc(consoleMembers.id)).limit(1000);
  return rows.map(toRow);
}

export async function getConsoleMember(actor: Actor, memberId: string, executor: Executor = getDb()): Promise<ConsoleMemberRow> {
  authorize(actor, "console_members", "read");
  const id = uuidSchema.safeParse(memberId);
  if (!id.success) throw new NotFoundError("No such console member.");
  const [row] = await memberRows(executor).where(eq(consoleMembers.id, id.data));
  if (!row) throw new NotFoundError("No such console member.");
  return toRow(row);
}

/** Active console members (for choosing, e.g., an access review's reviewers), by name. */
export async function listActiveConsoleMembers(db: Executor = getDb()) {
  return db
    .select({ id: consoleMembers.id, name: consoleMembers.name, email: consoleMembers.email, role: consoleMembers.role })
    .from(consoleMembers)
    .where(eq(consoleMembers.status, "active"))
    .orderBy(asc(consoleMembers.name))
    .limit(500);
}

// ---- Changing ---------------------------------------------------------------

/**
 * Adds someone with a password set directly (the demo seed, the load script and tests). Through the
 * product members are invited (`inviteConsoleMember`). Environment admins are scoped to at least one environment.
 */
export async function createConsoleMember(ctx: DomainContext, input: unknown): Promise<ConsoleMember> {
  const data = parseInput(createConsoleMemberInput, input);
  authorizeMemberChange(ctx.actor, { next: data.role });
  if (data.role === "environment_admin" && data.environmentIds.length === 0) {
    throw new ValidationError("An environment admin needs at least one environment.", {
      environmentIds: ["Choose at least one environment."],
    });
  }
  const passwordHash = await hashPassword(data.password);
  return inTransaction(async (tx) => {
    const envs = data.role === "environment_admin" ? await scopeOf(tx, data.environmentIds) : [];
    const [member] = await tx
      .insert(consoleMembers)
      .values({ email: data.email, name: data.name, role: data.role, passwordHash })
      .returning();
    await setScope(tx, member!.id, envs);
    await recordAudit(tx, ctx, {
      action: "console_member.create",
      targetType: "console_member",
      targetId: member!.id,
      targetLabel: member!.email,
      after: { email: member!.email, name: member!.name, role: member!.role, environments: envs.map((e) => e.key) },
    });
    return member!;
  });
}

/**
 * Invites someone to the console: an `invited` member with the role (and an environment admin's
 * environments), and a mail with a one-time link, valid 7 days, that sets their password.
 */
export async function inviteConsoleMember(ctx: DomainContext, input: unknown): Promise<{ member: ConsoleMember; expiresAt: Date }> {
  const data = parseInput(inviteConsoleMemberInput, input);
  authorizeMemberChange(ctx.actor, { next: data.role });
  checkScope(data.role, data.environmentIds);
  const name = data.name || data.email.split("@")[0]!;
  const { member, mail, expiresAt } = await inTransaction(async (tx) => {
    await lockMembers(tx);
    const envs = await scopeOf(tx, data.environmentIds);
    const [member] = await tx.insert(consoleMembers).values({ email: data.email, name, role: data.role, status: "invited", passwordHash: null }).returning();
    await setScope(tx, member!.id, envs);
    const { token, expiresAt } = await issueInvitation(tx, member!.id);
    await recordAudit(tx, ctx, {
      action: "console_member.invite",
      targetType: "console_member",
      targetId: member!.id,
      targetLabel: member!.email,
      after: { email: member!.email, name: member!.name, role: member!.role, environments: envs.map((e) => e.key), expiresInDays: CONSOLE_INVITE_DAYS },
    });
    return { member: member!, expiresAt, mail: invitationMail(member!, envs.map((e) => e.key), token) };
  });
  await sendMail(mail);
  return { member, expiresAt };
}

/**
 * One change to an existing member, in a transaction: the actor may manage members at all, the
 * members are locked (the last-owner rule reads them), and the actor may act on this member's role.
 */
async function changeMember<T>(ctx: DomainContext, memberId: string, change: (tx: Tx, loaded: Awaited<ReturnType<typeof loadMember>>) => Promise<T>): Promise<T> {
  authorizeMemberChange(ctx.actor);
  return inTransaction(async (tx) => {
    await lockMembers(tx);
    const loaded = await loadMember(tx, memberId);
    authorizeMemberChange(ctx.actor, { current: loaded.member.role });
    return change(tx, loaded);
  });
}

/** Sends an invited member a new link (the earlier one stops working), valid 7 days from now. */
export async function resendConsoleInvitation(ctx: DomainContext, memberId: string): Promise<{ expiresAt: Date }> {
  const { mail, expiresAt } = await changeMember(ctx, memberId, async (tx, { member, environments: envs }) => {
    if (member.status !== "invited") throw new ValidationError(`${member.email} has accepted their invitation already.`);
    const { token, expiresAt } = await issueInvitation(tx, member.id);
    await recordAudit(tx, ctx, {
      action: "console_member.invitation_resent",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      after: { expiresInDays: CONSOLE_INVITE_DAYS },
    });
    return { expiresAt, mail: invitationMail(member, envs.map((e) => e.key), token) };
  });
  await sendMail(mail);
  return { expiresAt };
}

/** A role change's input, and whether the actor may ask for that role (before any member is read). */
function checkedRoleChange(actor: Actor, input: unknown) {
  const data = parseInput(changeConsoleMemberRoleInput, input);
  authorizeMemberChange(actor, { next: data.role });
  checkScope(data.role, data.environmentIds);
  return data;
}

/**
 * The checks of a role change that need no lock, as changeConsoleMemberRole makes them (which makes
 * them again under its lock): the input, then whether the actor may make this change of this member
 * (an owner is an owner's business). A door comparing an If-Match runs it first, so a refusal tells
 * nothing of the member's ETag.
 */
export async function checkConsoleMemberRoleChange(actor: Actor, memberId: string, input: unknown): Promise<void> {
  const data = checkedRoleChange(actor, input);
  const { member } = await loadMember(getDb(), memberId);
  authorizeMemberChange(actor, { current: member.role, next: data.role });
}

/**
 * Changes a member's role and (for an environment admin) environments. Any change ends the
 * member's console sessions (a demotion takes effect in every open page; they sign in again), and
 * for an invited member replaces the invitation link (one read under the old role must not carry
 * the new one). The last active owner cannot be demoted.
 */
export async function changeConsoleMemberRole(ctx: DomainContext, memberId: string, input: unknown): Promise<{ changed: boolean; sessionsEnded: number }> {
  const data = checkedRoleChange(ctx.actor, input);
  const result = await inTransaction(async (tx) => {
    await lockMembers(tx);
    const { member, environments: before } = await loadMember(tx, memberId);
    authorizeMemberChange(ctx.actor, { current: member.role, next: data.role });
    const envs = await scopeOf(tx, data.environmentIds);
    const same = member.role === data.role && before.map((e) => e.id).sort().join() === envs.map((e) => e.id).sort().join();
    if (same) return { changed: false, sessionsEnded: 0, mail: null };
    if (data.role !== "owner") await refuseLastOwner(tx, member, "demoted");
    await tx.update(consoleMembers).set({ role: data.role }).where(eq(consoleMembers.id, member.id));
    await setScope(tx, member.id, envs);
    await voidResetLinks(tx, member.id);
    const sessionsEnded = await endMemberSessions(tx, member.id);
    const invitation = member.status === "invited" ? await issueInvitation(tx, member.id) : null;
    await recordAudit(tx, ctx, {
      action: "console_member.role_change",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      before: { role: member.role, environments: before.map((e) => e.key) },
      after: { role: data.role, environments: envs.map((e) => e.key), sessionsEnded, ...(invitation ? { invitationReplaced: true } : {}) },
    });
    const mail = invitation ? invitationMail({ ...member, role: data.role }, envs.map((e) => e.key), invitation.token) : null;
    return { changed: true, sessionsEnded, mail };
  });
  if (result.mail) await sendMail(result.mail);
  return { changed: result.changed, sessionsEnded: result.sessionsEnded };
}

/** Suspends an active member: they can no longer sign in, and their sessions end at once. */
export async function suspendConsoleMember(ctx: DomainContext, memberId: string): Promise<{ changed: boolean; sessionsEnded: number }> {
  return changeMember(ctx, memberId, async (tx, { member }) => {
    if (member.status === "suspended") return { changed: false, sessionsEnded: 0 };
    if (member.status === "invited") throw new ValidationError(`${member.email} has not accepted their invitation; remove them instead.`);
    await refuseLastOwner(tx, member, "suspended");
    await tx.update(consoleMembers).set({ status: "suspended" }).where(eq(consoleMembers.id, member.id));
    await voidResetLinks(tx, member.id);
    const sessionsEnded = await endMemberSessions(tx, member.id);
    // (Named so: the audit trail redacts a key that mentions a token.)
    const reviewerCredentialsRevoked = await revokeTokensActingFor(tx, ctx, member.id, "suspended");
    await recordAudit(tx, ctx, {
      action: "console_member.suspend",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      before: { status: member.status },
      after: { status: "suspended", sessionsEnded, reviewerCredentialsRevoked },
    });
    return { changed: true, sessionsEnded };
  });
}

/** Lets a suspended member sign in again (with their password; their old sessions stay ended). */
export async function reactivateConsoleMember(ctx: DomainContext, memberId: string): Promise<{ changed: boolean }> {
  return changeMember(ctx, memberId, async (tx, { member }) => {
    if (member.status === "active") return { changed: false };
    if (member.status === "invited") throw new ValidationError(`${member.email} has not accepted their invitation; send it again instead.`);
    await tx.update(consoleMembers).set({ status: "active", failedSignIns: 0, lockedUntil: null }).where(eq(consoleMembers.id, member.id));
    await recordAudit(tx, ctx, {
      action: "console_member.reactivate",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      before: { status: member.status },
      after: { status: "active" },
    });
    return { changed: true };
  });
}

/**
 * Removes a member (an invitation too): the row goes, with its sessions, scopes, pending links and
 * review assignments; the audit trail keeps who they were. The last active owner cannot be removed.
 */
export async function removeConsoleMember(ctx: DomainContext, memberId: string): Promise<{ sessionsEnded: number }> {
  return changeMember(ctx, memberId, async (tx, { member, environments: envs }) => {
    await refuseLastOwner(tx, member, "removed");
    const sessionsEnded = await endMemberSessions(tx, member.id);
    const reviewerCredentialsRevoked = await revokeTokensActingFor(tx, ctx, member.id, "removed");
    await tx.delete(consoleMembers).where(eq(consoleMembers.id, member.id));
    await recordAudit(tx, ctx, {
      action: "console_member.remove",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      before: { email: member.email, name: member.name, role: member.role, status: member.status, environments: envs.map((e) => e.key) },
      after: { sessionsEnded, reviewerCredentialsRevoked },
    });
    return { sessionsEnded };
  });
}

// ---- The invitee's side ------------------------------------------------------

/** The invitation behind a link, while it is usable (for showing its form); does not use it up. */
export async function peekConsoleInvitation(token: string, executor: Executor = getDb()) {
  if (!invitationTokenSchema.safeParse(token).success) return null;
  const [row] = await executor
    .select({ memberId: consoleMembers.id, email: consoleMembers.email, name: consoleMembers.name, role: consoleMembers.role, expiresAt: consoleInvitations.expiresAt })
    .from(consoleInvitations)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consoleInvitations.memberId))
    .where(
      and(
        eq(consoleInvitations.tokenHash, hashToken(token)),
        isNull(consoleInvitations.usedAt),
        gt(consoleInvitations.expiresAt, sql`now()`),
        eq(consoleMembers.status, "invited"),
      ),
    );
  return row ?? null;
}

// Form-level: the form has no field for the link to show it beside (it showed nothing when it was a `token` field error).
const USED_OR_EXPIRED = "This invitation was already used or has expired; ask an owner or admin to send it again.";

/**
 * Accepts an invitation: the link is used up (once, atomically: a second or concurrent use finds
 * nothing), the member's name and password are set and they become active. They sign in next.
 */
export async function acceptConsoleInvitation(input: unknown, request: { ip?: string } = {}): Promise<{ email: string }> {
  const data = parseInput(acceptInput, input);
  const preview = await peekConsoleInvitation(data.token);
  if (!preview) throw new ValidationError(USED_OR_EXPIRED);
  assertNewPassword(data, [preview.email, data.name]);
  const passwordHash = await hashPassword(data.password);
  return inTransaction(async (tx) => {
    // In turn with every other member change: a role change racing the acceptance either replaces
    // the link first (this one is then used up) or finds the member active (no new link to mail),
    // and the two never lock the invitation and the member in opposite orders (a deadlock).
    await lockMembers(tx);
    const [link] = await tx
      .update(consoleInvitations)
      .set({ usedAt: sql`now()` })
      .where(and(eq(consoleInvitations.tokenHash, hashToken(data.token)), isNull(consoleInvitations.usedAt), gt(consoleInvitations.expiresAt, sql`now()`)))
      .returning({ memberId: consoleInvitations.memberId });
    if (!link) throw new ValidationError(USED_OR_EXPIRED);
    const [member] = await tx
      .update(consoleMembers)
      .set({ name: data.name, passwordHash, status: "active", failedSignIns: 0, lockedUntil: null })
      .where(and(eq(consoleMembers.id, link.memberId), eq(consoleMembers.status, "invited")))
      .returning();
    if (!member) throw new ValidationError(USED_OR_EXPIRED);
    const scope = await tx.select({ id: consoleMemberEnvironments.environmentId }).from(consoleMemberEnvironments).where(eq(consoleMemberEnvironments.memberId, member.id));
    const actor: Actor = { type: "console_member", id: member.id, label: member.email, role: member.role, environmentIds: scope.map((s) => s.id) };
    await recordAudit(tx, { actor, ip: request.ip }, {
      action: "console_member.invitation_accepted",
      targetType: "console_member",
      targetId: member.id,
      targetLabel: member.email,
      after: { name: member.name, role: member.role, status: "active" },
    });
    return { email: member.email };
  });
}
