-- snapshot's own tables. The checkpoints table is the projection library's (ensure_schema).

-- The current folded state of every session this projection has seen.
CREATE TABLE snapshot.session_state (
    tenant_id  text        NOT NULL,
    session_id text        NOT NULL,
    seq        bigint      NOT NULL,
    state      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);

-- One row per distinct state per session; announced_at NULL = snapshot.created not yet published.
CREATE TABLE snapshot.snapshots (
    id           text        PRIMARY KEY,
    tenant_id    text        NOT NULL,
    session_id   text        NOT NULL,
    at_seq       bigint      NOT NULL,
    content_hash text        NOT NULL,
    state        jsonb       NOT NULL,
    label        text,
    trigger      text        NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    announced_at timestamptz,
    UNIQUE (tenant_id, session_id, content_hash)
);

CREATE INDEX snapshots_by_session ON snapshot.snapshots (tenant_id, session_id, at_seq DESC, id DESC);
CREATE INDEX snapshots_by_age ON snapshot.snapshots (created_at);
CREATE INDEX snapshots_unannounced ON snapshot.snapshots (created_at) WHERE announced_at IS NULL;
