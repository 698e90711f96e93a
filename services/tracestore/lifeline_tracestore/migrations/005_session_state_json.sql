-- traces.sessions.state as `json` too (004 kept it jsonb). Under single-event traffic
-- each bus batch rewrites the state of every session in it, a ~7 KB canonical JSON
-- that jsonb parsed into its binary form on every upsert: trace-store's session upsert
-- was a third of its statement time (pg_stat_statements, stack singles). The state is
-- written whole and read back whole; the lineage reads of `branched_from` work on json.
-- One row per session: the rewrite is short.
ALTER TABLE traces.sessions ALTER COLUMN state TYPE json USING state::json;
