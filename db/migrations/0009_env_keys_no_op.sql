-- Rewrite users.environment_keys only when it changes: a writer that already set it (user creation,
-- import) then costs no second tuple, and a re-grant of the same environments none at all.
CREATE OR REPLACE FUNCTION environment_access_refresh_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users u SET environment_keys = k.keys
  FROM (
    SELECT c.user_id, coalesce(string_agg(e.key, ',' ORDER BY e.position, e.key), '') AS keys
    FROM (SELECT DISTINCT user_id FROM changed_rows) c
    LEFT JOIN environment_access a ON a.user_id = c.user_id
    LEFT JOIN environments e ON e.id = a.environment_id
    GROUP BY c.user_id) k
  WHERE u.id = k.user_id AND u.environment_keys IS DISTINCT FROM k.keys;
  RETURN NULL;
END $$;
