import "server-only";
import { desc, eq, sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import { auditEvents, users, type AuditEvent, type User } from "@/db/schema";

export type UserDetail = {
  user: User;
  access: { environmentId: string; key: string; name: string; granted: boolean; source: string | null }[];
  groups: { environmentId: string; groupId: string; name: string; source: string }[];
  sessions: { id: string; environmentKey: string; method: string; createdAt: Date; lastSeenAt: Date; expiresAt: Date; ip: string | null }[];
};

export async function getUserDetail(userId: string): Promise<UserDetail | null> {
  if (!/^[0-9a-f-]{36}$/i.test(userId)) return null;
  const db = getDb();
  const [user] = await db.select().from(users).where(eq(users.id, userId));
  if (!user) return null;
  const [access, memberships, sessions] = await Promise.all([
    db.execute<{ environment_id: string; key: string; name: string; granted: boolean; source: string | null }>(sql`
      select e.id as environment_id, e.key, e.name, a.user_id is not null as granted, a.source
      from environments e left join environment_access a on a.environment_id = e.id and a.user_id = ${userId}
      order by e.position`),
    db.execute<{ environment_id: string; group_id: string; name: string; source: string }>(sql`
      select gm.environment_id, g.id as group_id, g.name, gm.source
      from group_members gm join groups g on g.id = gm.group_id
      where gm.user_id = ${userId} order by g.source <> 'system', lower(g.name)`),
    db.execute<{ id: string; key: string; method: string; created_at: Date; last_seen_at: Date; expires_at: Date; ip: string | null }>(sql`
      select s.id, e.key, s.method, s.created_at, s.last_seen_at, s.expires_at, s.ip
      from sessions s join environments e on e.id = s.environment_id
      where s.user_id = ${userId} and s.revoked_at is null and s.expires_at > now()
      order by s.created_at desc limit 50`),
  ]);
  return {
    user,
    access: access.map((a) => ({ environmentId: a.environment_id, key: a.key, name: a.name, granted: a.granted, source: a.source })),
    groups: memberships.map((m) => ({ environmentId: m.environment_id, groupId: m.group_id, name: m.name, source: m.source })),
    sessions: sessions.map((s) => ({
      id: s.id,
      environmentKey: s.key,
      method: s.method,
      createdAt: new Date(s.created_at),
      lastSeenAt: new Date(s.last_seen_at),
      expiresAt: new Date(s.expires_at),
      ip: s.ip,
    })),
  };
}

/** The user's history: changes to the user, and membership changes that name them. */
export async function userAuditEntries(userId: string, limit = 50): Promise<AuditEvent[]> {
  return getDb()
    .select()
    .from(auditEvents)
    .where(
      sql`(${auditEvents.targetType} = 'user' and ${auditEvents.targetId} = ${userId})
        or (${auditEvents.targetType} = 'group' and (${auditEvents.after} @> ${JSON.stringify({ added: [userId] })}::jsonb
            or ${auditEvents.after} @> ${JSON.stringify({ removed: [userId] })}::jsonb))`,
    )
    .orderBy(desc(auditEvents.id))
    .limit(limit);
}
