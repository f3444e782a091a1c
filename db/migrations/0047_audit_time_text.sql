-- What an audit row's hash covers includes its time as Postgres prints it, and that depends on the
-- session's TimeZone and DateStyle: the server's defaults until now. A restore onto a server with
-- other defaults (or an ALTER DATABASE ... SET timezone) made Verify report every row as altered.
-- audit_time_text prints a time with the settings the chain has been sealed under so far (this
-- migration's session has the same defaults the sealer had), fixed in the function itself, so the
-- trail verifies the same wherever it is restored and whatever a session sets.
DO $$
BEGIN
  EXECUTE format(
    'CREATE FUNCTION audit_time_text(t timestamptz) RETURNS text LANGUAGE sql STABLE SET TimeZone = %L SET DateStyle = %L AS %L',
    current_setting('TimeZone'), current_setting('DateStyle'), 'SELECT t::text');
END $$;
