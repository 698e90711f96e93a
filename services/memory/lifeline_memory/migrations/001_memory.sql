-- memory's own tables. memory.checkpoints is the projection library's (ensure_schema).
-- Every query is scoped by tenant_id; no other service reads these tables.

-- Every session seen: the digest's running scalars (kept after the finish, so a
-- suppression or a settings change can re-seal without re-reading the log).
CREATE TABLE memory.session_state (
    tenant_id  text NOT NULL,
    session_id text NOT NULL,
    person_id  text,
    seq        bigint NOT NULL,
    acc        jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX session_state_by_person ON memory.session_state (tenant_id, person_id);

-- Append-only evidence: one row per (event, kind, code, source); a redelivery inserts nothing.
CREATE TABLE memory.observations (
    tenant_id   text NOT NULL,
    session_id  text NOT NULL,
    seq         bigint NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('error','strength','skill_tag','flag','fact','grade','restore')),
    code        text NOT NULL,
    source      text NOT NULL,
    turn_id     bigint,
    intent      text,
    value       jsonb,
    event_id    uuid NOT NULL,
    occurred_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, session_id, seq, kind, code, source)
);

-- Sealed contributions: the profile's only input.
CREATE TABLE memory.session_digests (
    tenant_id   text NOT NULL,
    session_id  text NOT NULL,
    person_id   text NOT NULL,
    status      text NOT NULL CHECK (status IN ('finished','provisional')),
    through_seq bigint NOT NULL,
    finished_at timestamptz NOT NULL,
    digest      jsonb NOT NULL,
    digest_hash text NOT NULL,
    algorithm   int NOT NULL,
    rules_hash  text NOT NULL,
    sealed_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, session_id)
);
CREATE INDEX session_digests_by_person
    ON memory.session_digests (tenant_id, person_id, finished_at DESC, session_id DESC);

CREATE TABLE memory.persons (
    tenant_id       text NOT NULL,
    person_id       text NOT NULL,
    version         bigint NOT NULL DEFAULT 0,
    content_hash    text,
    as_of           timestamptz,
    profile         jsonb,
    bias            jsonb,
    dirty_since     timestamptz,
    dirty_session   text,
    dirty_seq       bigint,
    dirty_traceparent text,
    consolidated_at timestamptz,
    PRIMARY KEY (tenant_id, person_id)
);
CREATE INDEX persons_dirty ON memory.persons (dirty_since) WHERE dirty_since IS NOT NULL;

-- History of profiles, and the outbox of profile.consolidated.
CREATE TABLE memory.profile_versions (
    tenant_id         text NOT NULL,
    person_id         text NOT NULL,
    version           bigint NOT NULL,
    content_hash      text NOT NULL,
    reason            text NOT NULL
        CHECK (reason IN ('session_finished','on_demand','rebuild','suppression','forget','settings')),
    source_session_id text,
    source_seq        bigint,
    traceparent       text,
    summary           jsonb NOT NULL,   -- the code lists, kept when `profile` is pruned
    profile           jsonb,            -- NULL once beyond LIFELINE_MEMORY_VERSIONS_KEEP
    event_id          uuid NOT NULL UNIQUE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    announced_at      timestamptz,
    PRIMARY KEY (tenant_id, person_id, version)
);
CREATE INDEX profile_versions_unannounced ON memory.profile_versions (created_at) WHERE announced_at IS NULL;

CREATE TABLE memory.suppressions (
    tenant_id  text NOT NULL,
    person_id  text NOT NULL,
    id         uuid NOT NULL,
    kind       text NOT NULL,
    code       text NOT NULL,
    session_id text,
    turn_id    bigint,
    reason     text NOT NULL,
    actor      text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, person_id, id)
);

CREATE TABLE memory.tombstones (
    tenant_id    text NOT NULL,
    person_id    text NOT NULL,
    session_id   text NOT NULL DEFAULT '',   -- '' = the whole person
    forgotten_at timestamptz NOT NULL,
    block_future boolean NOT NULL DEFAULT false,
    reason       text,
    actor        text,
    PRIMARY KEY (tenant_id, person_id, session_id)
);
CREATE INDEX tombstones_by_session ON memory.tombstones (tenant_id, session_id);

-- The outbox of profile.forgotten (versions are deleted with the person, so they cannot carry it).
CREATE TABLE memory.forget_outbox (
    event_id     uuid PRIMARY KEY,
    tenant_id    text NOT NULL,
    session_id   text NOT NULL,
    event        jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    announced_at timestamptz
);
