import "server-only";
import { sql } from "drizzle-orm";
import { getDb } from "@/db/client";

export type MembershipRow = { group: string; groupSource: string; email: string; name: string; status: string; source: string; since: string };

/**
 * Every membership of an environment, group by group (by name) and within a group by user id,
 * each step an index range scan (groups by name, then the membership primary key), 5,000 at a time.
 */
export async function* iterateMemberships(environmentId: string, chunk = 5000): AsyncGenerator<MembershipRow[]> {
  const db = getDb();
  let groupKey: { key: string; id: string } | null = null;
  for (;;) {
    const [group]: { id: string; key: string; name: string; source: string }[] = await db.execute<{ id: string; key: string; name: string; source: string }>(sql`
      select id, lower(name) as key, name, source from groups
      where environment_id = ${environmentId} ${groupKey ? sql`and (lower(name), id) > (${groupKey.key}, ${groupKey.id}::uuid)` : sql``}
      order by lower(name), id limit 1`);
    if (!group) return;
    groupKey = { key: group.key, id: group.id };
    let afterUser: string | null = null;
    for (;;) {
      const rows: Record<string, string>[] = await db.execute<Record<string, string>>(sql`
        select gm.user_id, u.email, u.name, u.status, gm.source,
          to_char(gm.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as since
        from group_members gm join users u on u.id = gm.user_id
        where gm.group_id = ${group.id} ${afterUser ? sql`and gm.user_id > ${afterUser}::uuid` : sql``}
        order by gm.user_id limit ${chunk}`);
      if (rows.length === 0) break;
      yield rows.map((r) => ({ group: group.name, groupSource: group.source, email: r.email!, name: r.name!, status: r.status!, source: r.source!, since: r.since! }));
      afterUser = rows.at(-1)!.user_id!;
      if (rows.length < chunk) break;
    }
  }
}
