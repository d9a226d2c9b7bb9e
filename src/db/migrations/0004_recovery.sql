-- Fix and redeliver (docs/api.md, Recovering a failed recording): a recording remembers the
-- destination its key and storage_uri refer to, and every delivery the destination it used.

-- The destination (key template resolved) the recording's key and storage_uri were made for:
-- captured at start and moved by a redelivery to another destination. NULL on rows older than
-- this migration: their conversation's destination applies.
ALTER TABLE recordings ADD COLUMN recording_storage jsonb;
-- The destination this delivery wrote to (NULL on rows older than this migration).
ALTER TABLE deliveries ADD COLUMN destination jsonb;
-- The bulk redelivery selects a workspace's failed recordings.
CREATE INDEX recordings_failed_by_workspace ON recordings (workspace_id, created_at)
  WHERE state = 'failed';
