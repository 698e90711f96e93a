-- A trace's event and context are stored as `json` (their text, validated), not `jsonb`.
-- Why (issue 10): trace-store's row insert was 71 % of PostgreSQL's statement time in a
-- whole-stack burst. Each row carries the delivered event (~0.7 KB) and the session's
-- context after it (~6.7 KB of canonical JSON); jsonb parses both into its binary form
-- before compressing them, and trace-store never uses that form: the values are written
-- once and read back whole. On the embedded PostgreSQL (3,000 rows with the table's
-- indexes, batches of 100 via unnest), PostgreSQL's CPU per row was 187–193 µs with
-- jsonb and 93–100 µs with json, and the table took 11 MB instead of 9 MB. With json the
-- stored text is exactly what trace-store wrote: the event's bytes as delivered and the
-- context's canonical JSON. No query of this service uses jsonb operators on them.
-- traces.sessions.state stays jsonb (one row per session, rewritten per batch).
--
-- Cost on an existing deployment: changing a column's type rewrites the table. ALTER on
-- the partitioned parent propagates to every day partition, each rewritten (and its
-- indexes rebuilt) under an ACCESS EXCLUSIVE lock held until the migration commits, so
-- trace-store's consumer and its readers wait for the rewrite of every retained day;
-- plan it for a quiet hour, or shorten retention first. Partitions created later
-- inherit json from the parent. jsonb's text (`::json`) is what existing rows become:
-- the same values, in jsonb's key order and spacing. Pods of the previous release keep
-- working during a rollout: their `::jsonb` inserts are cast to json on assignment.
ALTER TABLE traces.event_traces
    ALTER COLUMN event_data TYPE json USING event_data::json,
    ALTER COLUMN context_snapshot TYPE json USING context_snapshot::json;
