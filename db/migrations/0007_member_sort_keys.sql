ALTER TABLE "group_members" ADD COLUMN "user_created_at" timestamp with time zone DEFAULT '-infinity' NOT NULL;--> statement-breakpoint
ALTER TABLE "group_members" ADD COLUMN "user_name_key" text DEFAULT '' NOT NULL;--> statement-breakpoint
CREATE INDEX "group_members_group_user_created_idx" ON "group_members" USING btree ("group_id","user_created_at","user_id");--> statement-breakpoint
CREATE INDEX "group_members_group_user_name_idx" ON "group_members" USING btree ("group_id","user_name_key","user_id");--> statement-breakpoint
-- Existing memberships take their users' keys.
UPDATE "group_members" gm SET "user_created_at" = u.created_at, "user_name_key" = lower(u.name) FROM "users" u WHERE u.id = gm.user_id;
--> statement-breakpoint
-- Every door's membership insert copies the user's sort keys (bulk loads may set them themselves).
CREATE FUNCTION group_members_copy_sort_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  SELECT u.created_at, lower(u.name) INTO NEW.user_created_at, NEW.user_name_key FROM users u WHERE u.id = NEW.user_id;
  RETURN NEW;
END $$;
--> statement-breakpoint
CREATE TRIGGER group_members_copy_sort_keys BEFORE INSERT ON group_members
  FOR EACH ROW EXECUTE FUNCTION group_members_copy_sort_keys();
--> statement-breakpoint
-- A rename reaches the user's memberships (a handful of rows) in the same transaction.
CREATE FUNCTION users_rename_sort_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE group_members SET user_name_key = lower(NEW.name) WHERE user_id = NEW.id;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER users_rename_sort_keys AFTER UPDATE OF name ON users
  FOR EACH ROW WHEN (lower(OLD.name) IS DISTINCT FROM lower(NEW.name)) EXECUTE FUNCTION users_rename_sort_keys();
