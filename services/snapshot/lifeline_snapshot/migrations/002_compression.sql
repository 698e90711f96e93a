-- Snapshot states at or above LIFELINE_COMPRESS_MIN_BYTES are stored compressed (issue 12).
-- `compression` names the algorithm of each row, so rows written before this migration
-- (all 'none') and rows written under another LIFELINE_COMPRESSION stay readable.
-- A 'none' row keeps its state as jsonb; any other keeps the compressed canonical JSON
-- in state_blob. content_hash is over the canonical JSON either way.
-- person_id is copied out of the state so the announcer need not decompress it.
ALTER TABLE snapshot.snapshots
    ADD COLUMN compression text NOT NULL DEFAULT 'none',
    ADD COLUMN state_blob  bytea,
    ADD COLUMN person_id   text,
    ALTER COLUMN state DROP NOT NULL;

UPDATE snapshot.snapshots SET person_id = state->>'person_id';

ALTER TABLE snapshot.snapshots ADD CONSTRAINT snapshots_state_stored_once CHECK (
    (compression = 'none' AND state IS NOT NULL AND state_blob IS NULL)
    OR (compression <> 'none' AND state IS NULL AND state_blob IS NOT NULL));
