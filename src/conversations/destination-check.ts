import type { RecordingStorage } from "../providers/index.ts";

/**
 * Which destination a check is about, so a refusal names what the caller can fix:
 * `conversation` — the `properties.recording_storage` (or legacy fields) of a new conversation;
 * `new_default` — the body of `PUT /v2/recording-storage`; `workspace_default` — the saved default a
 * new conversation captures, which the caller did not send.
 */
export type CheckedDestination = "conversation" | "new_default" | "workspace_default";

/**
 * A live check of a destination before it is stored (docs/api.md, Conversations and Workspace
 * default: S3's AssumeRole with the configured duration and ExternalId). The cloud adapters provide
 * it; without one, only the configuration is validated. It throws an `AppError` (a 400 naming the
 * cloud's reason and a hint) when the destination cannot be used, and resolves when it can or
 * when it does not apply.
 */
export type DestinationCheck = (
  destination: RecordingStorage & { key_template: string },
  context: { workspaceId: string; signal: AbortSignal; checking?: CheckedDestination },
) => Promise<void>;
