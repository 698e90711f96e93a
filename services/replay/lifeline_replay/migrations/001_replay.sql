-- replay's durable copy of each session's folded state (the head, written in the same
-- transaction as the projection checkpoint) and its periodic snapshots. The head is
-- rewritten with every applied batch, so it is `json` (stored as sent, only checked),
-- not `jsonb` (parsed and rebuilt on every write).
CREATE TABLE replay.sessions (
    tenant_id   text        NOT NULL,
    session_id  text        NOT NULL,
    seq         bigint      NOT NULL,
    state       json        NOT NULL,
    recorded_at timestamptz,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);

CREATE TABLE replay.snapshots (
    tenant_id    text        NOT NULL,
    session_id   text        NOT NULL,
    seq          bigint      NOT NULL,
    content_hash text        NOT NULL,
    state        jsonb       NOT NULL,
    recorded_at  timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id, seq)
);
