-- Live decisions from memory (lib/access/decision-cache.ts): every app instance keeps what
-- decisions need in memory and LISTENs on the channel iam_decisions; these triggers say what
-- changed. pg_notify is transactional: the messages are delivered at commit, in commit order, and
-- not at all on rollback. Payloads: 'u:<user ids>', 'e:<environment ids>', 's:<session ids>'
-- (comma-separated, at most 100 ids each, ~3,700 bytes, under the 8,000-byte limit), or '*'
-- (forget everything). Statement-level triggers over transition tables, so a statement changing
-- 10,000 rows sends a few messages, not 10,000; and a transaction stops at 20 messages: the 21st
-- becomes '*' and the rest of the transaction sends nothing (cascades fire one statement per
-- parent row, a bulk delete of users would otherwise send one message per user).
CREATE FUNCTION decisions_notify(kind text, ids uuid[]) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  sent integer := coalesce(nullif(current_setting('iam.decisions_sent', true), ''), '0')::integer;
BEGIN
  IF ids IS NULL OR cardinality(ids) = 0 OR sent < 0 THEN RETURN; END IF;
  FOR i IN 1 .. cardinality(ids) BY 100 LOOP
    IF sent >= 20 THEN
      PERFORM pg_notify('iam_decisions', '*');
      PERFORM set_config('iam.decisions_sent', '-1', true);
      RETURN;
    END IF;
    PERFORM pg_notify('iam_decisions', kind || ':' || array_to_string(ids[i:i + 99], ','));
    sent := sent + 1;
  END LOOP;
  PERFORM set_config('iam.decisions_sent', sent::text, true);
END $$;
--> statement-breakpoint
CREATE FUNCTION decisions_flush() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('iam_decisions', '*');
  PERFORM set_config('iam.decisions_sent', '-1', true);
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Rows whose user_id changed (environment_access, group_members: inserted or deleted).
CREATE FUNCTION decisions_by_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('u', array(SELECT DISTINCT user_id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Rows whose environment's policy changed (access_grants, resources; groups deleted).
CREATE FUNCTION decisions_by_environment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('e', array(SELECT DISTINCT environment_id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Users: only what a decision reads (status, the "signed out before" watermark, the email a
-- subject is looked up by); sign-ins update users all the time and send nothing.
CREATE FUNCTION decisions_users_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('u', array(
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.status IS DISTINCT FROM o.status OR n.revoked_before IS DISTINCT FROM o.revoked_before OR n.email IS DISTINCT FROM o.email));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION decisions_users_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('u', array(SELECT id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Groups: a rename changes the reasons' paths; member counts change all the time and send nothing.
CREATE FUNCTION decisions_groups_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('e', array(
    SELECT DISTINCT n.environment_id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.name IS DISTINCT FROM o.name OR n.environment_id IS DISTINCT FROM o.environment_id));
  RETURN NULL;
END $$;
--> statement-breakpoint
-- Sessions: an ended session (revoked_at set); last_seen_at changes all the time and sends nothing.
CREATE FUNCTION decisions_sessions_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('s', array(
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.revoked_at IS DISTINCT FROM o.revoked_at OR n.user_id IS DISTINCT FROM o.user_id));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION decisions_sessions_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('s', array(SELECT id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER users_decisions_update AFTER UPDATE ON users REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decisions_users_update();
--> statement-breakpoint
CREATE TRIGGER users_decisions_delete AFTER DELETE ON users REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_users_delete();
--> statement-breakpoint
CREATE TRIGGER environment_access_decisions_insert AFTER INSERT ON environment_access REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_user();
--> statement-breakpoint
CREATE TRIGGER environment_access_decisions_delete AFTER DELETE ON environment_access REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_user();
--> statement-breakpoint
CREATE TRIGGER group_members_decisions_insert AFTER INSERT ON group_members REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_user();
--> statement-breakpoint
CREATE TRIGGER group_members_decisions_delete AFTER DELETE ON group_members REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_user();
--> statement-breakpoint
CREATE TRIGGER access_grants_decisions_insert AFTER INSERT ON access_grants REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER access_grants_decisions_update AFTER UPDATE ON access_grants REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER access_grants_decisions_delete AFTER DELETE ON access_grants REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER resources_decisions_insert AFTER INSERT ON resources REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER resources_decisions_update AFTER UPDATE ON resources REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER resources_decisions_delete AFTER DELETE ON resources REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER groups_decisions_update AFTER UPDATE ON groups REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decisions_groups_update();
--> statement-breakpoint
CREATE TRIGGER groups_decisions_delete AFTER DELETE ON groups REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_by_environment();
--> statement-breakpoint
CREATE TRIGGER sessions_decisions_update AFTER UPDATE ON sessions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decisions_sessions_update();
--> statement-breakpoint
CREATE TRIGGER sessions_decisions_delete AFTER DELETE ON sessions REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_sessions_delete();
--> statement-breakpoint
CREATE TRIGGER users_decisions_truncate AFTER TRUNCATE ON users FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER environment_access_decisions_truncate AFTER TRUNCATE ON environment_access FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER group_members_decisions_truncate AFTER TRUNCATE ON group_members FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER access_grants_decisions_truncate AFTER TRUNCATE ON access_grants FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER resources_decisions_truncate AFTER TRUNCATE ON resources FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER groups_decisions_truncate AFTER TRUNCATE ON groups FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
--> statement-breakpoint
CREATE TRIGGER sessions_decisions_truncate AFTER TRUNCATE ON sessions FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
