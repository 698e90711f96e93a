-- The folded state of each session is written on every batch and read back whole (or not
-- at all, when the projection kept it in memory); no query looks inside it. As `jsonb`,
-- PostgreSQL parsed every ~7 KB state into its binary form on each write: under
-- single-event traffic, this upsert was a fifth of all statement time on the stack.
-- `json` stores the text as written (the state's canonical JSON). A rewrite of one row
-- per session, under an exclusive lock, once.
ALTER TABLE snapshot.session_state ALTER COLUMN state TYPE json USING state::json;
