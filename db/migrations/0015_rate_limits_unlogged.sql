-- Rate-limit counters are shared by every instance but need no durability: an unlogged table
-- writes no WAL, so a hot counter row is not held locked across a commit's fsync (which capped
-- every rate-limited door at about 1 / fsync time requests per second). A crash empties it.
ALTER TABLE "rate_limits" SET UNLOGGED;
