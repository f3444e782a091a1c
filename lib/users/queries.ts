import "server-only";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";
import type { UserSource, UserStatus } from "@/db/enums";

export type UserRow = {
  id: string;
  name: string;
  email: string;
  status: UserStatus;
  source: UserSource;
  environments: string[];
  groups: string[];
  lastSignInAt: Date | null;
  createdAt: Date;
};

/**
 * The newest users with access to an environment, optionally matching a substring of name or email
 * (trigram index). The full table with keyset pagination, sorting and filters comes with the
 * Users & groups screen.
 */
export async function listEnvironmentUsers(environmentId: string, options: { q?: string; limit?: number } = {}): Promise<UserRow[]> {
  const limit = Math.min(Math.max(options.limit ?? 50, 1), 200);
  const q = options.q?.trim().toLowerCase();
  const rows = await getDb().execute<{
    id: string; name: string; email: string; status: UserStatus; source: UserSource;
    environments: string[]; groups: string[]; last_sign_in_at: Date | null; created_at: Date;
  }>(sql`
    select u.id, u.name, u.email, u.status, u.source, u.last_sign_in_at, u.created_at,
      array(select e.key from environment_access ea join environments e on e.id = ea.environment_id
            where ea.user_id = u.id order by e.position) as environments,
      array(select g.name from group_members gm join groups g on g.id = gm.group_id
            where gm.user_id = u.id and gm.environment_id = ${environmentId} and g.source <> 'system'
            order by lower(g.name)) as groups
    from users u
    join environment_access a on a.user_id = u.id and a.environment_id = ${environmentId}
    ${q ? sql`where lower(u.name || ' ' || u.email) like ${"%" + q.replace(/[\\%_]/g, "\\$&") + "%"}` : sql``}
    order by u.created_at desc, u.id desc
    limit ${limit}`);
  return rows.map((r) => ({
    id: r.id,
    name: r.name,
    email: r.email,
    status: r.status,
    source: r.source,
    environments: r.environments,
    groups: r.groups,
    lastSignInAt: r.last_sign_in_at ? new Date(r.last_sign_in_at) : null,
    createdAt: new Date(r.created_at),
  }));
}
