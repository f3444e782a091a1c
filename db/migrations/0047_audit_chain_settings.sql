CREATE TABLE "audit_chain_settings" (
	"id" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"time_zone" text NOT NULL,
	CONSTRAINT "audit_chain_settings_one_row" CHECK ("audit_chain_settings"."id")
);
--> statement-breakpoint
-- What an audit row's hash covers includes its time as Postgres prints it, and that depended on the
-- session's TimeZone: the server's default. A restore onto a server with another default (or an
-- ALTER DATABASE ... SET timezone) made Verify report every row as altered. The zone the chain has
-- been printed in so far (this session has the default the sealer had) is kept as data, and
-- audit_time_text prints a time in it exactly as `t::text` did there (ISO style: 2026-12-06
-- 10:00:00.5+05:45), whatever the session's settings.
INSERT INTO "audit_chain_settings" ("time_zone") VALUES (current_setting('TimeZone'));
--> statement-breakpoint
CREATE FUNCTION audit_time_text(t timestamptz, zone text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT to_char(t AT TIME ZONE zone, 'YYYY-MM-DD HH24:MI:SS')
    || coalesce(nullif(rtrim(to_char(t AT TIME ZONE zone, '.US'), '0'), '.'), '')
    || CASE WHEN o < 0 THEN '-' ELSE '+' END
    || lpad((abs(o) / 3600)::text, 2, '0')
    || CASE WHEN abs(o) % 3600 <> 0 THEN ':' || lpad((abs(o) % 3600 / 60)::text, 2, '0') ELSE '' END
    || CASE WHEN abs(o) % 60 <> 0 THEN ':' || lpad((abs(o) % 60)::text, 2, '0') ELSE '' END
  FROM (SELECT extract(epoch FROM (t AT TIME ZONE zone) - (t AT TIME ZONE 'UTC'))::int AS o) offset_seconds
$$;
