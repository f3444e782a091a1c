-- audit_prune() runs with its owner's rights (SECURITY DEFINER) and took any cutoff: the 30 days
-- that retention keeps were checked only in the app (lib/audit/chain.ts), so whoever could call the
-- function could empty the trail, a future cutoff included. The database now holds the same floor.
CREATE OR REPLACE FUNCTION audit_prune(cutoff timestamptz) RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
  last_seq bigint;
  last_hash text;
  pruned bigint;
BEGIN
  IF cutoff IS NULL OR cutoff > now() - interval '30 days' THEN
    RAISE EXCEPTION 'audit_prune keeps at least 30 days: the cutoff % is later than %', cutoff, now() - interval '30 days' USING ERRCODE = 'insufficient_privilege';
  END IF;
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
