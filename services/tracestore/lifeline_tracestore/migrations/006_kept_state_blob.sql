-- The fold's state per session is rewritten by every batch that touches the session: under
-- single-event traffic, a ~6-7 KB JSON document per session per batch, which PostgreSQL
-- compressed with pglz on every write — among the largest statements of the stack
-- (issue 10). As in replay.sessions and snapshot.session_state, a state of
-- LIFELINE_COMPRESS_MIN_BYTES or more is now compressed by the service
-- (LIFELINE_COMPRESSION, zstd by default) into state_blob, the algorithm in
-- `compression`; smaller states and rows written before stay `json` in `state`.
-- What SQL reads inside the state gets a column of its own, written with it: the person
-- (`session_person`) and the branch origin (the lineage queries), filled here from the
-- states already stored (one row per session, rewritten once).
ALTER TABLE traces.sessions
    ADD COLUMN compression   text NOT NULL DEFAULT 'none',
    ADD COLUMN state_blob    bytea,
    ADD COLUMN person_id     text,
    ADD COLUMN branched_from json;

UPDATE traces.sessions SET person_id = state->>'person_id', branched_from = state->'branched_from'
WHERE state IS NOT NULL;

ALTER TABLE traces.sessions ADD CONSTRAINT sessions_state_stored_once CHECK (
    (compression = 'none' AND state_blob IS NULL)
    OR (compression <> 'none' AND state IS NULL AND state_blob IS NOT NULL));
