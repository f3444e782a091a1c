-- The SCIM door keeps a directory's token lookup in memory (lib/access/decision-cache.ts `lookup`,
-- like API tokens): a change to a directory (token rotated, disabled, renamed, its PATCH answer;
-- not the bookkeeping the SCIM door writes itself: the request log's last-request stamp and the
-- user count kept by migration 0013's trigger, so a cached row's copies of those are not read) sends 't:<directory ids>' at commit.
CREATE FUNCTION decisions_directories_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('t', array(
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (to_jsonb(n) - 'last_request_at' - 'user_count' - 'updated_at') IS DISTINCT FROM (to_jsonb(o) - 'last_request_at' - 'user_count' - 'updated_at')));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION decisions_directories_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('t', array(SELECT id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER directories_decisions_update AFTER UPDATE ON directories REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decisions_directories_update();
--> statement-breakpoint
CREATE TRIGGER directories_decisions_delete AFTER DELETE ON directories REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_directories_delete();
