import "server-only";
import { cache } from "react";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { decode, encode } from "next-auth/jwt";
import { and, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { ConsoleRole } from "@/db/enums";
import { consoleMemberEnvironments, secondFactors, consoleMembers, consoleSessions, consoleSettings, consoleSso } from "@/db/schema";
import { env, servedOverHttps } from "@/env";
import type { Actor, DomainContext } from "./actor";
import { CONSOLE_SESSION_HOURS, liveConsoleSession } from "./console-sign-in";
import { clientIp } from "./request-info";

export type ConsoleSession = {
  sessionId: string;
  member: { id: string; email: string; name: string; role: ConsoleRole; environmentIds: string[] };
  /** The console requires a second factor and the member has none: only the enrolment page is open to them. */
  mustEnrol: boolean;
  /** How this session was opened: password (and second factor) or console SSO. */
  method: "password" | "sso";
};

export function sessionCookieName(): string {
  return servedOverHttps() ? "__Secure-next-auth.session-token" : "next-auth.session-token";
}

/**
 * The cookie next-auth would set for a console session opened elsewhere (console SSO's ACS): the
 * same encrypted token naming the session row, the same name and attributes.
 */
export async function consoleSessionCookie(sessionId: string, member: { id: string; email: string; name: string }) {
  const maxAge = CONSOLE_SESSION_HOURS * 3600;
  const value = await encode({ token: { sub: member.id, email: member.email, name: member.name, sid: sessionId }, secret: env().NEXTAUTH_SECRET, maxAge });
  return { name: sessionCookieName(), value, options: { httpOnly: true, sameSite: "lax" as const, path: "/", secure: servedOverHttps(), maxAge } };
}

/** Reads and checks the console session: cookie → session row (not revoked, not expired, not idle) → active member. */
export async function readConsoleSession(cookieValue: string | undefined): Promise<ConsoleSession | null> {
  if (!cookieValue) return null;
  const token = await decode({ token: cookieValue, secret: env().NEXTAUTH_SECRET }).catch(() => null);
  const sid = token?.sid;
  if (typeof sid !== "string" || !/^[0-9a-f-]{36}$/i.test(sid)) return null;
  const db = getDb();
  const [row] = await db
    .select({
      sessionId: consoleSessions.id,
      lastSeenAt: consoleSessions.lastSeenAt,
      id: consoleMembers.id,
      email: consoleMembers.email,
      name: consoleMembers.name,
      role: consoleMembers.role,
      environmentIds: sql<string[]>`coalesce((select array_agg(${consoleMemberEnvironments.environmentId}) from ${consoleMemberEnvironments} where ${consoleMemberEnvironments.memberId} = ${consoleMembers.id}), '{}')`,
      // A password session without a factor, where the console requires one of everyone, or of
      // owners once console SSO keeps passwords for them (break-glass: password and second factor).
      // An SSO session relies on the IdP.
      mustEnrol: sql<boolean>`(${consoleSessions.method} = 'password'
        and (coalesce((select ${consoleSettings.requireSecondFactor} from ${consoleSettings} limit 1), false)
          or (${consoleMembers.role} = 'owner' and exists (select 1 from ${consoleSso} where ${consoleSso.enabled} and ${consoleSso.passwordSignIn} = 'owners')))
        and not exists (select 1 from ${secondFactors} f where f.member_id = ${consoleMembers.id} and f.confirmed_at is not null))`,
      method: consoleSessions.method,
    })
    .from(consoleSessions)
    .innerJoin(consoleMembers, eq(consoleMembers.id, consoleSessions.memberId))
    .where(
      and(
        eq(consoleSessions.id, sid),
        liveConsoleSession(),
        eq(consoleMembers.status, "active"),
      ),
    );
  if (!row) return null;
  // Idle timeout: refresh the last-seen time at most once a minute.
  if (Date.now() - row.lastSeenAt.getTime() > 60_000) {
    await db.update(consoleSessions).set({ lastSeenAt: sql`now()` }).where(eq(consoleSessions.id, sid));
  }
  const { sessionId, lastSeenAt: _seen, mustEnrol, method, ...member } = row;
  return { sessionId, member, mustEnrol, method };
}

/** The console session of the current request (deduplicated per request). */
export const getConsoleSession = cache(async (): Promise<ConsoleSession | null> => {
  const store = await cookies();
  return readConsoleSession(store.get(sessionCookieName())?.value);
});

/** Where a member without the second factor the console requires is sent, and may only go. */
export const ENROL_PATH = "/console/security";
/** The refusal of anything else, for actions and routes. */
export const MUST_ENROL = "The console requires a second factor: set one up first (Security).";

/** For pages: the session, or a redirect to the sign-in page (or to enrolment, when the console requires a second factor the member lacks). */
export async function requireConsoleSession(): Promise<ConsoleSession> {
  const session = await getConsoleSession();
  if (!session) redirect("/sign-in");
  if (session.mustEnrol) redirect(ENROL_PATH);
  return session;
}

export function actorFromSession(session: ConsoleSession): Actor {
  return {
    type: "console_member",
    id: session.member.id,
    label: session.member.email,
    role: session.member.role,
    environmentIds: session.member.environmentIds,
  };
}

/** The domain context of the current request: actor, request id and client address. */
export async function contextFromSession(session: ConsoleSession): Promise<DomainContext> {
  const h = await headers();
  return {
    actor: actorFromSession(session),
    requestId: h.get("x-request-id") ?? crypto.randomUUID(),
    ip: clientIp((name) => h.get(name)),
  };
}
