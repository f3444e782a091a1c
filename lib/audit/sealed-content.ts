// What an audit row's hash covers: every column but the chain's own, each as Postgres prints it
// (jsonb and timestamptz included; the time in UTC and ISO style, which every connection sets:
// db/client.ts), as one JSON array. The chain (chain.ts) hashes it; the CSV export carries it, so
// that a copy of the trail can be checked away from the database (scripts/verify-audit-csv.py).
export const SEALED_CONTENT = `json_build_array(id::text, occurred_at::text, actor_type, actor_id, actor_label, action, target_type, target_id,
  target_label, environment_id::text, environment_key, outcome, reason, before::text, after::text, request_id, ip)::text`;
