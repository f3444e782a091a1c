import "server-only";
import { and, eq, isNull, sql } from "drizzle-orm";
import { getDb, type Tx } from "@/db/client";
import { consoleInvitations, consoleMembers, type ConsoleMember, type IdentityProvider } from "@/db/schema";
import type { DomainContext } from "@/lib/auth/actor";
import { clearConsoleFailures } from "@/lib/auth/console-lockout";
import { openConsoleSession } from "@/lib/auth/console-sign-in";
import { recordAudit } from "@/lib/audit/record";
import type { ConsoleAccess } from "@/lib/console-sso";
import { requireEnvironments } from "@/lib/environments";
import { endMemberSessions, lockMembers, scopeIds, setScope } from "./index";

export type ConsoleSsoIdentity = { subject: string; email: string; name: string };
export type ConsoleSsoSignIn =
  | { ok: true; sessionId: string; member: { id: string; email: string; name: string }; created: boolean; roleChanged: boolean }
  | { ok: false; reason: string; memberId?: string };

/**
 * The member side of a console SSO sign-in (lib/sso/flow.ts has checked the response, and
 * lib/console-sso has found the role the IdP groups grant): the member linked to this IdP subject,
 * or else the member with this email (then linked), or a new member; their role and scope set to
 * what the groups grant (ending their other sessions when it changes, as a role change does); a
 * console session. Owners never sign in through an IdP (their break-glass password and second
 * factor), suspended members stay out, and a member linked to another identity is not taken over.
 */
export async function signInConsoleMemberBySso(
  tx: Tx,
  ctx: DomainContext,
  input: { idp: Pick<IdentityProvider, "id" | "name">; identity: ConsoleSsoIdentity; access: ConsoleAccess; authnContext: string | null; ip?: string; userAgent?: string },
): Promise<ConsoleSsoSignIn> {
  const { idp, identity, access } = input;
  await lockMembers(tx);
  const [linked] = await tx
    .select()
    .from(consoleMembers)
    .where(and(eq(consoleMembers.ssoIdentityProviderId, idp.id), eq(consoleMembers.ssoSubject, identity.subject)));
  const [byEmail] = linked ? [] : await tx.select().from(consoleMembers).where(sql`lower(${consoleMembers.email}) = lower(${identity.email})`);
  const member: ConsoleMember | undefined = linked ?? byEmail;
  if (member?.role === "owner") {
    return { ok: false, memberId: member.id, reason: `${member.email} is an owner: owners sign in with their password and second factor (the break-glass way in), never through an IdP.` };
  }
  if (member?.status === "suspended") return { ok: false, memberId: member.id, reason: `${member.email} is suspended from the console.` };
  if (!linked && member?.ssoSubject && (member.ssoIdentityProviderId !== idp.id || member.ssoSubject !== identity.subject)) {
    return { ok: false, memberId: member.id, reason: `${member.email} signs in to the console as another identity; the IdP's subject “${identity.subject}” does not match it.` };
  }
  const envs = (await requireEnvironments(tx, access.environmentIds)).sort((a, b) => a.position - b.position);
  const ssoCtx: DomainContext = { ...ctx, actor: { type: "system", id: null, label: `console SSO (${idp.name})` } };
  let current: ConsoleMember;
  let created = false;
  let roleChanged = false;
  if (!member) {
    [current] = (await tx
      .insert(consoleMembers)
      .values({ email: identity.email, name: identity.name, role: access.role, status: "active", ssoIdentityProviderId: idp.id, ssoSubject: identity.subject })
      .returning()) as [ConsoleMember];
    await setScope(tx, current.id, envs);
    created = true;
    await recordAudit(tx, ssoCtx, {
      action: "console_member.create",
      targetType: "console_member",
      targetId: current.id,
      targetLabel: current.email,
      after: { role: access.role, environments: envs.map((e) => e.key), via: `console SSO (${idp.name})`, groups: access.matched },
    });
  } else {
    const beforeScope = await scopeIds(tx, member.id);
    roleChanged = member.role !== access.role || beforeScope.join() !== envs.map((e) => e.id).sort().join();
    const sessionsEnded = roleChanged ? await endMemberSessions(tx, member.id) : 0;
    [current] = (await tx
      .update(consoleMembers)
      .set({ role: access.role, status: "active", ssoIdentityProviderId: idp.id, ssoSubject: identity.subject })
      .where(eq(consoleMembers.id, member.id))
      .returning()) as [ConsoleMember];
    if (roleChanged) await setScope(tx, member.id, envs);
    // An invitation not yet accepted is void once the member is in by SSO.
    if (member.status === "invited") await tx.update(consoleInvitations).set({ usedAt: sql`now()` }).where(and(eq(consoleInvitations.memberId, member.id), isNull(consoleInvitations.usedAt)));
    if (!linked) {
      await recordAudit(tx, ssoCtx, {
        action: "console_member.sso_link",
        targetType: "console_member",
        targetId: member.id,
        targetLabel: member.email,
        after: { identityProvider: idp.name, subject: identity.subject, ...(member.status === "invited" ? { invitationVoided: true } : {}) },
      });
    }
    if (roleChanged) {
      await recordAudit(tx, ssoCtx, {
        action: "console_member.role_change",
        targetType: "console_member",
        targetId: member.id,
        targetLabel: member.email,
        // Keys on both sides, as every other role change's row.
        before: { role: member.role, environments: (await requireEnvironments(tx, beforeScope)).sort((a, b) => a.position - b.position).map((e) => e.key) },
        after: { role: access.role, environments: envs.map((e) => e.key), sessionsEnded, via: `console SSO (${idp.name})`, groups: access.matched },
      });
    }
  }
  await clearConsoleFailures(tx, current.id, { signedIn: true });
  const sessionId = await openConsoleSession(tx, { memberId: current.id, method: "sso", secondFactor: false, authnContext: input.authnContext, ip: input.ip, userAgent: input.userAgent });
  return { ok: true, sessionId, member: { id: current.id, email: current.email, name: current.name }, created, roleChanged };
}

/**
 * A console SSO sign-in that the IdP's groups no longer map to any role: the member linked to that
 * identity keeps no open session (their role followed the groups at each sign-in; with none mapped
 * they are refused, and what they opened before ends with it). Owners are never linked to an IdP.
 * Audited when sessions end. Their role stays as it was: an owner or admin decides what follows.
 */
export async function endSessionsOfUnmappedMember(ctx: DomainContext, idp: Pick<IdentityProvider, "id" | "name">, subject: string): Promise<number> {
  return getDb().transaction(async (tx) => {
    await lockMembers(tx);
    const [member] = await tx.select().from(consoleMembers).where(and(eq(consoleMembers.ssoIdentityProviderId, idp.id), eq(consoleMembers.ssoSubject, subject)));
    if (!member || member.role === "owner") return 0;
    const sessionsEnded = await endMemberSessions(tx, member.id);
    if (sessionsEnded) {
      await recordAudit(tx, ctx, {
        action: "console_member.sessions_end",
        targetType: "console_member",
        targetId: member.id,
        targetLabel: member.email,
        reason: `No console role is mapped to their IdP groups any more (${idp.name}).`,
        after: { sessionsEnded },
      });
    }
    return sessionsEnded;
  });
}
