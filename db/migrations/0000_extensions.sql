-- pg_trgm backs the substring search indexes on users and groups.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
