// What an audit row's hash covers: every column but the chain's own, each as Postgres prints it
// (jsonb included; the time in the zone the chain has been printed in since its first seal, kept in
// audit_chain_settings by migration 0047, whatever the session's settings), as one JSON array. The chain
// (chain.ts) hashes it; the CSV export and the REST API carry it, so that a copy of the trail can be
// checked away from the database (scripts/verify-audit-csv.py).
export const SEALED_CONTENT = `json_build_array(id::text, audit_time_text(occurred_at, (select time_zone from audit_chain_settings)), actor_type, actor_id, actor_label, action, target_type, target_id,
  target_label, environment_id::text, environment_key, outcome, reason, before::text, after::text, request_id, ip)::text`;
