-- Recording ingest and the delivery engine (docs/api.md, Ingest and Delivery).

-- One append at a time per recording, across processes: the appender holds this lease (renewed
-- while its body streams in) and commits `bytes_received` only if it still holds it.
ALTER TABLE recordings ADD COLUMN append_token uuid;
ALTER TABLE recordings ADD COLUMN append_lease_expires_at timestamptz;
ALTER TABLE recordings ADD COLUMN last_append_at timestamptz;
-- The upload that streams parts to the destination while the recording is still arriving:
-- kept so a crash leaves nothing behind (whoever delivers next aborts it).
ALTER TABLE recordings ADD COLUMN live_upload_handle jsonb;
-- From the MP4 header when the recording completes; NULL when the header does not tell.
ALTER TABLE recordings ADD COLUMN duration_seconds double precision;
ALTER TABLE recordings ADD COLUMN delivered_at timestamptz;
ALTER TABLE recordings ADD COLUMN purged_at timestamptz;
-- The `complete` request's own checks, kept so a retried `complete` is recognised as the same.
ALTER TABLE recordings ADD CONSTRAINT recordings_sha256_hex CHECK (sha256 ~ '^[0-9a-f]{64}$');

-- The upload in progress of the attempt holding the lease (S3 UploadId, GCS session URI, Azure
-- block prefix): the next attempt aborts it when the previous one died.
ALTER TABLE deliveries ADD COLUMN upload_handle jsonb;
-- Each attempt's lease holder bumps this; stale holders' writes are fenced out by it.
ALTER TABLE deliveries ADD COLUMN lease_token uuid;
-- When the recording was found already in place (idempotent redelivery) rather than uploaded.
ALTER TABLE deliveries ADD COLUMN reused_existing boolean NOT NULL DEFAULT false;

-- At most one delivery in flight per recording: redelivery while one is queued or running is refused.
CREATE UNIQUE INDEX deliveries_one_active ON deliveries (recording_id)
  WHERE state IN ('queued', 'running');
CREATE INDEX recordings_retention ON recordings (retained_until)
  WHERE state IN ('delivered', 'failed');
