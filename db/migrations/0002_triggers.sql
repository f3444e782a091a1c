-- groups.member_count is kept by statement-level triggers so that every door (console, API, SCIM,
-- SAML sync, bulk jobs) keeps it right, and a bulk insert costs one UPDATE per touched group.
CREATE FUNCTION group_members_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE groups g SET member_count = g.member_count + d.n
  FROM (SELECT group_id, count(*)::int AS n FROM new_rows GROUP BY group_id) d
  WHERE g.id = d.group_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION group_members_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE groups g SET member_count = greatest(g.member_count - d.n, 0)
  FROM (SELECT group_id, count(*)::int AS n FROM old_rows GROUP BY group_id) d
  WHERE g.id = d.group_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER group_members_count_insert AFTER INSERT ON group_members
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION group_members_count_insert();
--> statement-breakpoint
CREATE TRIGGER group_members_count_delete AFTER DELETE ON group_members
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION group_members_count_delete();
