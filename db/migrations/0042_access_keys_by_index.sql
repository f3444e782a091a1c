-- Trigger statements are planned once per connection and the plan is kept: a transition table's
-- size is the one it had at that first run, and the tables' statistics those of that moment.
-- After a bulk change (an import, a directory's first sync) every later grant on the connection
-- hashed its one changed row against a full scan of users or environment_access; before
-- autovacuum's first analyze, even a batch of 4 did (17 ms at 112,000 users, against 3 ms by
-- index). The statements of these triggers all join on primary keys: they probe by index whatever
-- the statistics and the first run's size.
--
-- Each changed user's environments are read through the access primary key (user_id first).
CREATE OR REPLACE FUNCTION environment_access_refresh_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE users u SET environment_keys = k.keys
  FROM (
    SELECT c.user_id,
      (SELECT coalesce(string_agg(e.key, ',' ORDER BY e.position, e.key), '')
       FROM environment_access a JOIN environments e ON e.id = a.environment_id
       WHERE a.user_id = c.user_id) AS keys
    FROM (SELECT DISTINCT user_id FROM changed_rows) c) k
  WHERE u.id = k.user_id AND u.environment_keys IS DISTINCT FROM k.keys;
  RETURN NULL;
END $$;
--> statement-breakpoint
-- The table-reading trigger functions plan with sequential scans, hash and merge joins off.
DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['environment_access_refresh_keys', 'ledger_environment_access', 'ledger_group_members', 'ledger_access_grants',
    'group_members_count_insert', 'group_members_count_delete', 'directory_users_count_insert', 'directory_users_count_delete'] LOOP
    EXECUTE format('ALTER FUNCTION %I() SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off', f);
  END LOOP;
END $$;
--> statement-breakpoint
-- A function's settings stay in force for the triggers its own statements fire (the keys refresh
-- updates users, the counts update groups and directories). The decision notifications join a
-- statement's old and new rows, transition tables both: with hash joins off, that join would be a
-- nested loop, quadratic in the rows one statement changes (an environment's deletion rewrites the
-- keys of every user who had it). They plan with the defaults.
DO $$
DECLARE f text;
BEGIN
  FOREACH f IN ARRAY ARRAY['decisions_users_update', 'decisions_groups_update', 'decisions_directories_update', 'decisions_sessions_update', 'decisions_api_tokens_update'] LOOP
    EXECUTE format('ALTER FUNCTION %I() SET enable_seqscan = on SET enable_hashjoin = on SET enable_mergejoin = on', f);
  END LOOP;
END $$;
