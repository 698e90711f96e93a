-- governance's schema (spec §B.9). governance.checkpoints belongs to the projection library.

CREATE TABLE governance.tenants (
    tenant_id text PRIMARY KEY,
    last_seq  bigint NOT NULL DEFAULT 0          -- the per-tenant, gapless decision sequence
);

CREATE TABLE governance.models (
    tenant_id    text NOT NULL,
    model_id     text NOT NULL,
    display_name text,
    provider     text,
    metadata     jsonb NOT NULL DEFAULT '{}',
    registered   boolean NOT NULL DEFAULT false,  -- false = only seen in calls
    version      bigint NOT NULL DEFAULT 1,       -- the ETag of PUT /v1/models/{id}
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz,
    PRIMARY KEY (tenant_id, model_id)
);

CREATE TABLE governance.intents (
    tenant_id   text NOT NULL,
    intent      text NOT NULL,                    -- '*' = the global route
    weight      double precision NOT NULL DEFAULT 1.0 CHECK (weight > 0 AND weight <= 10),
    frozen      boolean NOT NULL DEFAULT false,
    frozen_reason text,
    last_primary_change_at timestamptz,
    PRIMARY KEY (tenant_id, intent)
);

CREATE TABLE governance.placements (
    tenant_id   text NOT NULL,
    intent      text NOT NULL,
    model_id    text NOT NULL,
    state       text NOT NULL CHECK (state IN ('SHADOW','CANDIDATE','PRIMARY','ACTIVE','QUARANTINED')),
    since       timestamptz NOT NULL,
    since_seq   bigint NOT NULL,
    pinned      boolean NOT NULL DEFAULT false,
    shadow_rate real NOT NULL DEFAULT 0 CHECK (shadow_rate >= 0 AND shadow_rate <= 1),
    canary_traffic real CHECK (canary_traffic >= 0 AND canary_traffic <= 1),
    streak      int NOT NULL DEFAULT 0,
    enter_streak int NOT NULL DEFAULT 0,
    counted_until timestamptz,                    -- window end of the last counted look
    quarantine_streak int NOT NULL DEFAULT 0,
    last_anomaly_at timestamptz,
    last_eval   jsonb,                            -- the last tick's figures and verdict
    PRIMARY KEY (tenant_id, intent, model_id)
);
-- Exactly one PRIMARY per intent, whatever races: a second one is refused by the database.
CREATE UNIQUE INDEX one_primary_per_intent ON governance.placements (tenant_id, intent) WHERE state = 'PRIMARY';

CREATE TABLE governance.call_buckets (
    tenant_id text NOT NULL, intent text NOT NULL, model_id text NOT NULL, bucket timestamptz NOT NULL,
    calls bigint NOT NULL, outcomes bigint NOT NULL, successes bigint NOT NULL,
    scored bigint NOT NULL, score_milli_sum bigint NOT NULL, score_milli_sq bigint NOT NULL,
    latency_n bigint NOT NULL, latency_sum_ms bigint NOT NULL, latency_hist bigint[] NOT NULL,
    tokens_in bigint NOT NULL DEFAULT 0, tokens_out bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, intent, model_id, bucket)
);
CREATE INDEX call_buckets_by_time ON governance.call_buckets (tenant_id, bucket);

CREATE TABLE governance.session_cursor (                 -- the session's current intent (the fold's rule)
    tenant_id text NOT NULL, session_id text NOT NULL,
    current_intent text,
    PRIMARY KEY (tenant_id, session_id)
);

-- Every keyed call counted: a second description of the same (turn, model) only fills what
-- the first left null, in the first one's bucket, so a call counts once. Kept as long as buckets.
CREATE TABLE governance.call_keys (
    tenant_id text NOT NULL, session_id text NOT NULL, turn_id bigint NOT NULL, model_id text NOT NULL,
    intent text NOT NULL, minute bigint NOT NULL,
    score double precision, success boolean, latency_ms bigint, tokens_in bigint, tokens_out bigint,
    PRIMARY KEY (tenant_id, session_id, turn_id, model_id)
);
CREATE INDEX call_keys_by_minute ON governance.call_keys (minute);

CREATE TABLE governance.decisions (
    tenant_id   text NOT NULL,
    seq         bigint NOT NULL,
    decision_id uuid NOT NULL UNIQUE,
    kind        text NOT NULL CHECK (kind IN ('transition','anomaly','register','override','freeze','configure')),
    tick        timestamptz,                      -- set for the job's decisions
    decided_at  timestamptz NOT NULL,
    intent      text NOT NULL,
    model_id    text,
    from_state  text,
    to_state    text,
    rule        text NOT NULL,
    reason      text NOT NULL,
    actor       text,
    inputs      jsonb NOT NULL,
    settings_hash text NOT NULL,
    idempotency_key text,
    event       jsonb,                            -- the lifecycle event (the outbox)
    announced_at timestamptz,
    PRIMARY KEY (tenant_id, seq)
);
-- A re-run of a tick, or a second leader, cannot decide the same thing twice.
CREATE UNIQUE INDEX decisions_job_key ON governance.decisions (tenant_id, intent, tick, rule, model_id)
    WHERE tick IS NOT NULL;
CREATE UNIQUE INDEX decisions_idempotency ON governance.decisions (tenant_id, idempotency_key, seq);
CREATE INDEX decisions_unannounced ON governance.decisions (decided_at)
    WHERE announced_at IS NULL AND event IS NOT NULL;
CREATE INDEX decisions_by_intent ON governance.decisions (tenant_id, intent, seq);

-- Append-only: only announced_at may ever be set, once; nothing is deleted.
CREATE FUNCTION governance.decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'governance.decisions is append-only';
    END IF;
    IF (to_jsonb(NEW) - 'announced_at') IS DISTINCT FROM (to_jsonb(OLD) - 'announced_at')
       OR OLD.announced_at IS NOT NULL THEN
        RAISE EXCEPTION 'governance.decisions is append-only (only announced_at may be set, once)';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER decisions_append_only BEFORE UPDATE OR DELETE ON governance.decisions
    FOR EACH ROW EXECUTE FUNCTION governance.decisions_append_only();

CREATE TABLE governance.state_history (
    tenant_id text NOT NULL, intent text NOT NULL, model_id text NOT NULL, state text NOT NULL,
    valid_from timestamptz NOT NULL, valid_to timestamptz,
    from_seq bigint NOT NULL, to_seq bigint,
    PRIMARY KEY (tenant_id, intent, model_id, from_seq)
);
CREATE INDEX state_history_primary ON governance.state_history (tenant_id, intent, valid_from DESC)
    WHERE state = 'PRIMARY';

CREATE TABLE governance.evaluations (
    tenant_id text NOT NULL, intent text NOT NULL, model_id text NOT NULL, tick timestamptz NOT NULL,
    verdict text NOT NULL, reasons text[] NOT NULL, inputs jsonb NOT NULL, settings_hash text NOT NULL,
    PRIMARY KEY (tenant_id, intent, model_id, tick)
);

-- What evaluate() was given at each (intent, tick), so verify can re-run it byte for byte.
CREATE TABLE governance.tick_inputs (
    tenant_id text NOT NULL, intent text NOT NULL, tick timestamptz NOT NULL,
    input jsonb NOT NULL, rules jsonb NOT NULL, output_sha256 text NOT NULL,
    PRIMARY KEY (tenant_id, intent, tick)
);

CREATE TABLE governance.job_runs (
    tick timestamptz PRIMARY KEY, outcome text NOT NULL, detail text,
    started_at timestamptz NOT NULL DEFAULT now()
);
