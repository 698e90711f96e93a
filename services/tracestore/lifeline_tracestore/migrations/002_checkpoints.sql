-- trace-store runs on lifeline_projection's engine: its checkpoints live in
-- traces.checkpoints (the engine's table, same shape in every projection's schema).
-- traces.sessions keeps the fold's state per session. Seed the checkpoints from the
-- last_seq the sessions table carried until now, so no session is re-folded.
CREATE TABLE IF NOT EXISTS traces.checkpoints (
    tenant_id  text NOT NULL,
    session_id text NOT NULL,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);
INSERT INTO traces.checkpoints (tenant_id, session_id, last_seq, updated_at)
SELECT tenant_id, session_id, last_seq, updated_at FROM traces.sessions
ON CONFLICT (tenant_id, session_id) DO UPDATE SET last_seq = GREATEST(traces.checkpoints.last_seq, EXCLUDED.last_seq);
