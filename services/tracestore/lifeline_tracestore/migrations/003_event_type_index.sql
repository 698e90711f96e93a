-- Filtering by event_type (`?event_type=` on the session, person and OTel listings).
-- Created on the partitioned parent, so PostgreSQL builds it on every existing day
-- partition and on each one created later. (CONCURRENTLY is not possible on a
-- partitioned parent, and migrations run in a transaction: the build holds writes
-- to each partition while it runs, which the day partitions keep short.)
-- A person's page of one type keys on (tenant, person, type) and keeps the listing's
-- newest-first order; a session's traces of one type key on (tenant, session, type).
CREATE INDEX IF NOT EXISTS event_traces_person_type
    ON traces.event_traces (tenant_id, person_id, event_type, ts DESC, trace_id DESC);
CREATE INDEX IF NOT EXISTS event_traces_session_type
    ON traces.event_traces (tenant_id, session_id, event_type, ts, seq);
