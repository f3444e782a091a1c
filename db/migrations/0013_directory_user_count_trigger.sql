-- directories.user_count follows directory_users, one statement at a time (so a batch of SCIM
-- creates updates the directory's row once).
CREATE OR REPLACE FUNCTION directory_users_count_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE directories d SET user_count = d.user_count + x.n
  FROM (SELECT directory_id, count(*)::int AS n FROM inserted GROUP BY directory_id) x
  WHERE d.id = x.directory_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION directory_users_count_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE directories d SET user_count = d.user_count - x.n
  FROM (SELECT directory_id, count(*)::int AS n FROM deleted GROUP BY directory_id) x
  WHERE d.id = x.directory_id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER directory_users_count_insert AFTER INSERT ON directory_users
  REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION directory_users_count_insert();
--> statement-breakpoint
CREATE TRIGGER directory_users_count_delete AFTER DELETE ON directory_users
  REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT EXECUTE FUNCTION directory_users_count_delete();
--> statement-breakpoint
UPDATE directories d SET user_count = (SELECT count(*) FROM directory_users du WHERE du.directory_id = d.id);
