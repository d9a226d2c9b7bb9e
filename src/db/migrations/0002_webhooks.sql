-- Signed webhooks (docs/api.md, Events): each workspace's signing secrets, and the log of every
-- delivery attempt of every event.

CREATE TABLE webhook_secrets (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- The relay's own secret (`whsec_…`), needed in plaintext to sign: AES-256-GCM under the master
  -- key with the row id as additional data (12-byte nonce || ciphertext || 16-byte tag).
  secret_encrypted bytea NOT NULL,
  created_at timestamptz NOT NULL,
  -- NULL while current; set at rotation to the end of the overlap, until which it still signs.
  expires_at timestamptz
);
-- One current secret per workspace; rotation retires it and inserts the next in one transaction.
CREATE UNIQUE INDEX webhook_secrets_one_current ON webhook_secrets (workspace_id)
  WHERE expires_at IS NULL;
CREATE INDEX webhook_secrets_by_workspace ON webhook_secrets (workspace_id, created_at DESC);

-- Why the last attempt failed, shown in the event log without reading every attempt.
ALTER TABLE events ADD COLUMN last_error text;
-- Keyset pagination of the log needs a total order; ids are unique, created_at is not.
DROP INDEX events_by_workspace;
CREATE INDEX events_by_workspace ON events (workspace_id, created_at DESC, id DESC);

CREATE TABLE event_attempts (
  event_id text NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  -- 1 for the first attempt; resends continue the count, so the pair is unique.
  attempt integer NOT NULL CHECK (attempt >= 1),
  started_at timestamptz NOT NULL,
  -- The receiver's HTTP status; NULL when no response arrived (refused, timeout, network).
  status integer,
  latency_ms integer NOT NULL CHECK (latency_ms >= 0),
  -- The start of the response body (bounded), never headers: a receiver may echo secrets there.
  response_excerpt text,
  error text,
  PRIMARY KEY (event_id, attempt)
);
