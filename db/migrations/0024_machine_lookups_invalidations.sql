-- The machine doors keep two more lookups in memory (lib/access/decision-cache.ts `lookup`): an API
-- token by its hash, and an environment by its key. A token's change (revoked, expired, its scope
-- or environments; not its last-use stamp) sends 't:<token ids>'; any change to environments
-- (rare) flushes everything.
CREATE FUNCTION decisions_api_tokens_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('t', array(
    SELECT n.id FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.revoked_at IS DISTINCT FROM o.revoked_at OR n.expires_at IS DISTINCT FROM o.expires_at OR n.scope IS DISTINCT FROM o.scope
      OR n.environment_ids IS DISTINCT FROM o.environment_ids OR n.token_hash IS DISTINCT FROM o.token_hash OR n.name IS DISTINCT FROM o.name));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION decisions_api_tokens_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM decisions_notify('t', array(SELECT id FROM changed));
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER api_tokens_decisions_update AFTER UPDATE ON api_tokens REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION decisions_api_tokens_update();
--> statement-breakpoint
CREATE TRIGGER api_tokens_decisions_delete AFTER DELETE ON api_tokens REFERENCING OLD TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION decisions_api_tokens_delete();
--> statement-breakpoint
CREATE TRIGGER environments_decisions_flush AFTER UPDATE OR DELETE OR TRUNCATE ON environments FOR EACH STATEMENT EXECUTE FUNCTION decisions_flush();
