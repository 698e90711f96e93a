-- Branches (issue 12): a session whose history is another's log up to `from_seq`, by
-- reference. The branch's own events are ordinary rows of ingest.events from
-- from_seq + 1 on; reads splice in the parent's rows up to from_seq (branch_store.py).
-- A parent with branches cannot be deleted (the foreign key): its rows are part of every
-- branch's history. The branch's own session row is not referenced, so archiving and
-- restoring a branch (WAL retention) keeps its link.
CREATE TABLE ingest.branches (
    tenant_id         text        NOT NULL,
    session_id        text        NOT NULL,
    parent_session_id text        NOT NULL,
    from_seq          bigint      NOT NULL CHECK (from_seq >= 0),
    name              text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id),
    CHECK (session_id <> parent_session_id),
    FOREIGN KEY (tenant_id, parent_session_id) REFERENCES ingest.sessions (tenant_id, session_id)
);

CREATE INDEX branches_by_parent ON ingest.branches (tenant_id, parent_session_id, created_at);
