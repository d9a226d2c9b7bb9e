-- Destination health (docs/api.md, Destination health): the scheduled check of each workspace's
-- default destination and of every destination used in the last 7 days.

CREATE TABLE destination_health (
  workspace_id uuid NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  -- md5 of the destination without its key template (jsonb prints keys in one canonical order),
  -- so the same bucket and trust is one row whatever template the conversations use.
  destination_key text NOT NULL,
  -- The destination as last seen (key template resolved): what the check runs against.
  destination jsonb NOT NULL,
  status text NOT NULL DEFAULT 'unknown' CHECK (status IN ('unknown', 'healthy', 'unhealthy')),
  checked_at timestamptz,
  error_code text,
  message text,
  hint text,
  -- The confused-deputy self-check of the last check (pass, warn or skip) and what it said.
  safety jsonb,
  -- When the destination was last found in scope (a default, or used by a delivery).
  seen_at timestamptz NOT NULL,
  -- When the next check is due; a claim moves it one (jittered) interval on at once, so any
  -- number of processes check a destination at most once per interval.
  next_check_at timestamptz NOT NULL,
  -- The process running a check, and until when its claim holds (a crashed check is retaken).
  claim_token uuid,
  claimed_until timestamptz,
  -- Counts status changes: names each transition in its events' ids.
  transitions integer NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, destination_key)
);
CREATE INDEX destination_health_due ON destination_health (next_check_at);
-- The destinations used in the last 7 days are read from the deliveries.
CREATE INDEX deliveries_by_created ON deliveries (created_at);
