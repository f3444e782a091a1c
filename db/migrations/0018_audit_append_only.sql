-- The audit trail is append-only, enforced here rather than only in code:
--  * UPDATE is refused except the sealer's one change: seq, prev_hash and hash from null to a value,
--    every other column unchanged;
--  * DELETE is refused except through audit_prune() (retention by age, audited by its caller),
--    which runs as the table's owner: an app connected as a role of its own cannot delete directly
--    even if it sets the flag;
--  * TRUNCATE is refused.
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'TRUNCATE' THEN
    RAISE EXCEPTION 'audit_events is append-only: TRUNCATE is refused' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN
    IF current_setting('iam.audit_prune', true) = 'on' AND OLD.seq IS NOT NULL THEN
      RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: DELETE is refused (retention goes through audit_prune)' USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF OLD.seq IS NULL AND NEW.seq IS NOT NULL AND NEW.hash IS NOT NULL
     AND (to_jsonb(NEW) - 'seq' - 'prev_hash' - 'hash') = (to_jsonb(OLD) - 'seq' - 'prev_hash' - 'hash') THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: UPDATE is refused' USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_guard();
--> statement-breakpoint
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events FOR EACH STATEMENT EXECUTE FUNCTION audit_events_guard();
--> statement-breakpoint
CREATE FUNCTION audit_anchors_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_anchors is append-only' USING ERRCODE = 'insufficient_privilege';
END $$;
--> statement-breakpoint
CREATE TRIGGER audit_anchors_append_only BEFORE UPDATE OR DELETE ON audit_anchors FOR EACH ROW EXECUTE FUNCTION audit_anchors_guard();
--> statement-breakpoint
CREATE TRIGGER audit_anchors_no_truncate BEFORE TRUNCATE ON audit_anchors FOR EACH STATEMENT EXECUTE FUNCTION audit_anchors_guard();
--> statement-breakpoint
-- Retention: deletes the sealed rows older than `cutoff` from the start of the chain (never a row
-- in the middle: only up to the first kept row's seq), records the new anchor, returns the count.
CREATE FUNCTION audit_prune(cutoff timestamptz) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  pruned bigint;
BEGIN
  SELECT seq, hash INTO last_seq, last_hash FROM audit_events
    WHERE seq IS NOT NULL AND seq < coalesce((SELECT min(seq) FROM audit_events WHERE seq IS NOT NULL AND occurred_at >= cutoff), 9223372036854775807)
    ORDER BY seq DESC LIMIT 1;
  IF last_seq IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM set_config('iam.audit_prune', 'on', true);
  DELETE FROM audit_events WHERE seq IS NOT NULL AND seq <= last_seq;
  GET DIAGNOSTICS pruned = ROW_COUNT;
  PERFORM set_config('iam.audit_prune', 'off', true);
  INSERT INTO audit_anchors (seq, hash, pruned_rows, cutoff) VALUES (last_seq + 1, last_hash, pruned, cutoff);
  RETURN pruned;
END $$;
