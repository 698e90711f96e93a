-- The log: the write-ahead log and the outbox of every Lifeline event.
CREATE TABLE ingest.sessions (
    tenant_id   text        NOT NULL,
    session_id  text        NOT NULL,
    last_seq    bigint      NOT NULL DEFAULT 0,
    person_id   text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);

CREATE TABLE ingest.events (
    id             bigint      GENERATED ALWAYS AS IDENTITY,
    tenant_id      text        NOT NULL,
    session_id     text        NOT NULL,
    seq            bigint      NOT NULL CHECK (seq >= 1),
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL,
    turn_id        bigint,
    person_id      text,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    traceparent    text,
    envelope       jsonb       NOT NULL,
    published_at   timestamptz,
    PRIMARY KEY (tenant_id, session_id, seq)
);

CREATE UNIQUE INDEX events_event_id ON ingest.events (event_id);
CREATE UNIQUE INDEX events_turn_id ON ingest.events (tenant_id, session_id, turn_id)
    WHERE turn_id IS NOT NULL;
-- The outbox: only unpublished rows, in append order, so the relay's scan stays tiny.
CREATE INDEX events_unpublished ON ingest.events (id) WHERE published_at IS NULL;
