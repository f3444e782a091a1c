ALTER TABLE "environment_access" ADD COLUMN "group_count" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "users" ADD COLUMN "environment_keys" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "environment_access_env_group_count_idx" ON "environment_access" USING btree ("environment_id","group_count","user_id");--> statement-breakpoint
CREATE INDEX "users_environment_keys_idx" ON "users" USING btree ("environment_keys","id");--> statement-breakpoint
UPDATE users u SET environment_keys = x.keys FROM (
  SELECT a.user_id, string_agg(e.key, ',' ORDER BY e.position, e.key) AS keys
  FROM environment_access a JOIN environments e ON e.id = a.environment_id GROUP BY a.user_id) x
WHERE u.id = x.user_id;
--> statement-breakpoint
UPDATE environment_access a SET group_count = x.n FROM (
  SELECT user_id, environment_id, count(*)::int AS n FROM group_members WHERE source <> 'system' GROUP BY user_id, environment_id) x
WHERE a.user_id = x.user_id AND a.environment_id = x.environment_id;
--> statement-breakpoint
-- users.environment_keys follows every grant and revoke, whichever door made it.
CREATE FUNCTION environment_access_refresh_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users u SET environment_keys = coalesce((
    SELECT string_agg(e.key, ',' ORDER BY e.position, e.key)
    FROM environment_access a JOIN environments e ON e.id = a.environment_id WHERE a.user_id = u.id), '')
  WHERE u.id IN (SELECT user_id FROM changed_rows);
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER environment_access_keys_insert AFTER INSERT ON environment_access
  REFERENCING NEW TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION environment_access_refresh_keys();
--> statement-breakpoint
CREATE TRIGGER environment_access_keys_delete AFTER DELETE ON environment_access
  REFERENCING OLD TABLE AS changed_rows FOR EACH STATEMENT EXECUTE FUNCTION environment_access_refresh_keys();
--> statement-breakpoint
-- environment_access.group_count follows memberships (Everyone excluded), in the same statement-level triggers.
CREATE OR REPLACE FUNCTION group_members_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE groups g SET member_count = g.member_count + d.n
  FROM (SELECT group_id, count(*)::int AS n FROM new_rows GROUP BY group_id) d
  WHERE g.id = d.group_id;
  UPDATE environment_access a SET group_count = a.group_count + d.n
  FROM (SELECT user_id, environment_id, count(*)::int AS n FROM new_rows WHERE source <> 'system' GROUP BY user_id, environment_id) d
  WHERE a.user_id = d.user_id AND a.environment_id = d.environment_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION group_members_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE groups g SET member_count = greatest(g.member_count - d.n, 0)
  FROM (SELECT group_id, count(*)::int AS n FROM old_rows GROUP BY group_id) d
  WHERE g.id = d.group_id;
  UPDATE environment_access a SET group_count = greatest(a.group_count - d.n, 0)
  FROM (SELECT user_id, environment_id, count(*)::int AS n FROM old_rows WHERE source <> 'system' GROUP BY user_id, environment_id) d
  WHERE a.user_id = d.user_id AND a.environment_id = d.environment_id;
  RETURN NULL;
END $$;
