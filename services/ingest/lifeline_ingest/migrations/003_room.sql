-- Rooms (issue 12): each session's room (participants, leases, the fencing counter, open
-- conflicts), the fold of its collaboration events, kept beside last_seq so both advance in
-- the one append statement. NULL: the session never had a room (appends are unrestricted).
ALTER TABLE ingest.sessions ADD COLUMN room jsonb;
