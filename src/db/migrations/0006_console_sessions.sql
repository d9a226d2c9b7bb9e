-- Console sessions (docs/console.md, Sign-in): a workspace API key or the operator token is
-- exchanged once for a random session token held in an HttpOnly cookie. Only the token's SHA-256
-- is stored, so a read of this table cannot be replayed as a cookie; sign-out and expiry end a
-- session for every process sharing the database.
CREATE TABLE console_sessions (
  token_sha256 bytea PRIMARY KEY CHECK (length(token_sha256) = 32),
  kind text NOT NULL CHECK (kind IN ('workspace', 'operator')),
  workspace_id uuid REFERENCES workspaces (id) ON DELETE CASCADE,
  -- The key signed in with: revoking it (or deleting it) ends the session too.
  api_key_id text REFERENCES api_keys (id) ON DELETE CASCADE,
  -- The double-submit token every state-changing request sends back in `x-csrf-token`.
  csrf_token text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  ended_at timestamptz,
  CHECK ((kind = 'workspace') = (workspace_id IS NOT NULL AND api_key_id IS NOT NULL))
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
