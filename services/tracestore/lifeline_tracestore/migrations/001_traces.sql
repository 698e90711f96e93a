-- Event traces, partitioned by the day of `ts` (ingest's recorded_at). Day partitions
-- (traces.event_traces_pYYYYMMDD) are created on demand by the service, so that
-- retention drops a whole day instead of deleting its rows one by one.
CREATE TABLE traces.event_traces (
    trace_id         uuid        NOT NULL,
    ts               timestamptz NOT NULL,
    tenant_id        text        NOT NULL,
    person_id        text,
    session_id       text        NOT NULL,
    seq              bigint,
    event_type       text        NOT NULL,
    event_data       jsonb       NOT NULL,
    context_snapshot jsonb,
    otel_trace_id    text,
    source           text        NOT NULL,
    stored_at        timestamptz NOT NULL DEFAULT now(),
    -- An event keeps its recorded_at forever, so (trace_id, ts) is as unique as trace_id.
    PRIMARY KEY (trace_id, ts)
) PARTITION BY RANGE (ts);

CREATE INDEX event_traces_person ON traces.event_traces (tenant_id, person_id, ts DESC, trace_id DESC);
CREATE INDEX event_traces_session ON traces.event_traces (tenant_id, session_id, ts, seq);
CREATE INDEX event_traces_otel ON traces.event_traces (otel_trace_id) WHERE otel_trace_id IS NOT NULL;

-- Per session: how far the log has been folded into traces (the projection's checkpoint,
-- advanced in the same transaction as the traces) and the fold's state at that seq, where
-- the next event's context starts. Kept when traces expire, so a session that goes on is
-- never re-folded from scratch.
CREATE TABLE traces.sessions (
    tenant_id  text        NOT NULL,
    session_id text        NOT NULL,
    last_seq   bigint      NOT NULL DEFAULT 0,
    state      jsonb,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);
