-- A job's report is checked against itself batch after batch (an import's duplicate rows; a
-- resumed bulk job's users already done). As `job_id = $1 AND key IN (…)`, with no statistics yet
-- or a plan kept from when the job had few items, Postgres read the job's whole report through the
-- primary key and tested each line against every key: an import of 40,000 rows spent 200 ms per
-- batch of 500 there, more with each batch. Here each key is looked up on its own (a lateral
-- subquery, which no plan can turn into a scan of the report) through (job_id, key), with
-- sequential and bitmap scans off, whatever the statistics.
CREATE FUNCTION job_items_first_seq(job uuid, keys text[]) RETURNS TABLE (key text, seq integer)
LANGUAGE sql STABLE
SET enable_seqscan = off SET enable_bitmapscan = off
AS $$
  SELECT k.key, min(s.seq) FROM unnest(keys) AS k(key)
  CROSS JOIN LATERAL (SELECT i.seq FROM job_items i WHERE i.job_id = job AND i.key = k.key OFFSET 0) s
  GROUP BY k.key
$$;
