-- The relay's tables (docs/architecture.md). Ids are UUIDs made by the application; jsonb holds
-- validated customer configuration, which never contains a secret (docs/api.md,
-- recording_storage), so it may be shown back.

CREATE TABLE workspaces (
  id uuid PRIMARY KEY,
  name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
  -- The workspace's default recording_storage, used by conversations created without their own.
  default_recording_storage jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_keys (
  -- The public half of the key (`rrk_<id>_<secret>`): finds the row without revealing the secret.
  id text PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- SHA-256 of the whole key; the key itself is shown once and never stored.
  key_sha256 bytea NOT NULL CHECK (length(key_sha256) = 32),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
CREATE INDEX api_keys_workspace ON api_keys (workspace_id);

CREATE TABLE conversations (
  id uuid PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  status text NOT NULL,
  -- The properties as accepted, shown back on reads.
  properties jsonb NOT NULL,
  -- The destination in force for this conversation: its own, or the workspace default captured
  -- at creation, so a later change of the default does not move its recordings.
  recording_storage jsonb,
  callback_url text,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversations_by_workspace ON conversations (workspace_id, created_at DESC, id DESC);

CREATE TABLE recordings (
  id uuid PRIMARY KEY,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- Assigned when the recording starts; unique per conversation, part of the default key.
  epoch_ms bigint NOT NULL,
  -- The destination key, fixed at start and reused by every delivery attempt.
  key text NOT NULL,
  storage_uri text NOT NULL,
  state text NOT NULL CHECK (state IN ('receiving', 'complete', 'delivered', 'failed', 'purged')),
  bytes_received bigint NOT NULL DEFAULT 0 CHECK (bytes_received >= 0),
  sha256 text,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  retained_until timestamptz,
  UNIQUE (conversation_id, epoch_ms)
);
CREATE INDEX recordings_by_workspace ON recordings (workspace_id, created_at DESC);

CREATE TABLE deliveries (
  id uuid PRIMARY KEY,
  recording_id uuid NOT NULL REFERENCES recordings (id) ON DELETE CASCADE,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  run_at timestamptz NOT NULL DEFAULT now(),
  -- The worker holding the lease, and when the lease lapses unless renewed by heartbeat.
  locked_by text,
  lease_expires_at timestamptz,
  last_error_code text,
  last_error_message text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz
);
CREATE INDEX deliveries_due ON deliveries (run_at) WHERE state = 'queued';
CREATE INDEX deliveries_leased ON deliveries (lease_expires_at) WHERE state = 'running';
CREATE INDEX deliveries_by_recording ON deliveries (recording_id);

CREATE TABLE events (
  -- The Standard Webhooks `webhook-id`, stable across retries.
  id text PRIMARY KEY,
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  conversation_id uuid NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
  recording_id uuid REFERENCES recordings (id) ON DELETE CASCADE,
  event_type text NOT NULL,
  payload jsonb NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  next_attempt_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  delivered_at timestamptz
);
-- Exactly one recording_ready per recording (docs/api.md, Events).
CREATE UNIQUE INDEX events_one_ready_per_recording ON events (recording_id)
  WHERE event_type = 'application.recording_ready';
CREATE INDEX events_due ON events (next_attempt_at) WHERE state = 'pending';
CREATE INDEX events_by_workspace ON events (workspace_id, created_at DESC);

CREATE TABLE signing_keys (
  -- RFC 7638 JWK thumbprint.
  kid text PRIMARY KEY,
  alg text NOT NULL CHECK (alg = 'RS256'),
  public_jwk jsonb NOT NULL,
  -- AES-256-GCM under the master key: 12-byte nonce || ciphertext || 16-byte tag.
  private_key_encrypted bytea NOT NULL,
  -- Published in the JWKS from publish_at, signs from activate_at (at least 24 h later), stops
  -- signing at retire_at, leaves the JWKS at unpublish_at.
  publish_at timestamptz NOT NULL,
  activate_at timestamptz NOT NULL,
  retire_at timestamptz,
  unpublish_at timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (activate_at >= publish_at)
);
