-- The outbox apart from the log. Marking an event published used to rewrite its row of
-- ingest.events: a non-HOT update (the outbox index's predicate changed) that copied the
-- whole envelope and added an entry to every index of the log, then left a dead row for
-- vacuum: 64 µs of statement time per event, more than the append itself. Now each event
-- has a narrow row here, written in the append's statement and marked by the relay.
CREATE TABLE ingest.outbox (
    id           bigint      PRIMARY KEY,  -- ingest.events.id
    published_at timestamptz               -- NULL until the relay published the event
);

INSERT INTO ingest.outbox (id, published_at) SELECT id, published_at FROM ingest.events;

-- The relay's scan: only unpublished rows, in append order.
CREATE INDEX outbox_unpublished ON ingest.outbox (id) WHERE published_at IS NULL;

-- The relay joins the log by id. No foreign key: its per-row check doubled the append's
-- statement time; the one path that removes events (WAL retention) removes their
-- outbox rows in the same statement.
CREATE UNIQUE INDEX events_id ON ingest.events (id);

DROP INDEX ingest.events_unpublished;
ALTER TABLE ingest.events DROP COLUMN published_at;
