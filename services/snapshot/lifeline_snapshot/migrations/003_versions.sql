-- Versions (issue 12): a snapshot a user named, with a message and tags. `versioned_at`
-- is when it became a version (the state may have been snapshotted before), and orders
-- the listing. Versions are kept by count and age retention; only a DELETE removes one.
ALTER TABLE snapshot.snapshots
    ADD COLUMN message      text,
    ADD COLUMN tags         text[] NOT NULL DEFAULT '{}',
    ADD COLUMN versioned_at timestamptz,
    ADD CONSTRAINT snapshots_version_complete CHECK ((message IS NULL) = (versioned_at IS NULL));

CREATE INDEX snapshots_versions ON snapshot.snapshots (tenant_id, session_id, versioned_at DESC, id DESC)
    WHERE message IS NOT NULL;
