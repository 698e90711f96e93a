-- The head (each session's folded state) is rewritten by every batch that touches the
-- session: under single-event traffic, a ~6-7 KB JSON document per session per batch,
-- which PostgreSQL compressed with pglz on every write (its TOAST threshold is ~2 KB) —
-- most of this upsert's time, and the upsert among the largest statements of the stack
-- (issue 10). Like snapshot's tables, a head at or above LIFELINE_COMPRESS_MIN_BYTES is now
-- compressed by the service (LIFELINE_COMPRESSION, zstd by default: ~1.3 KB, under the
-- TOAST threshold) into state_blob, the algorithm in `compression`; smaller heads and rows
-- written before stay `json` in `state` ('none'). Adding nullable columns is a catalog
-- change; the CHECK reads the table once (one row per session) under its lock.
ALTER TABLE replay.sessions
    ADD COLUMN compression text NOT NULL DEFAULT 'none',
    ADD COLUMN state_blob  bytea,
    ALTER COLUMN state DROP NOT NULL;

ALTER TABLE replay.sessions ADD CONSTRAINT sessions_state_stored_once CHECK (
    (compression = 'none' AND state IS NOT NULL AND state_blob IS NULL)
    OR (compression <> 'none' AND state IS NULL AND state_blob IS NOT NULL));
