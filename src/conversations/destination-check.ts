import type { RecordingStorage } from "../providers/index.ts";

/**
 * A live check of a destination at conversation creation (docs/api.md, Conversations: S3's
 * AssumeRole with the configured duration and ExternalId). The cloud adapters provide it; without
 * one, creation validates the configuration only. It throws an `AppError` (a 400 naming the cloud's reason and
 * a hint) when the destination cannot be used, and resolves when it can or when it does not apply.
 */
export type DestinationCheck = (
  destination: RecordingStorage & { key_template: string },
  context: { workspaceId: string; signal: AbortSignal },
) => Promise<void>;
