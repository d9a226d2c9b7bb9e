-- The length a producer declared for a recording (tus `Upload-Length`, docs/api.md "tus"):
-- NULL while it is deferred (a live recording's length is unknown until it stops). Once set it
-- never changes, and the append that reaches it completes the recording.
ALTER TABLE recordings ADD COLUMN upload_length bigint CHECK (upload_length > 0);
