/**
 * The events (docs/api.md, Events) in the seed platform's callback envelope: a recording's
 * outcome, and a destination's health changing (docs/api.md, Destination health). Builders take
 * what the delivery engine knows about a recording and return the exact JSON the receiver gets;
 * the body is fixed when the event is enqueued, so every retry sends (and signs) the same bytes.
 */

import type { RecordingStorage, StorageProvider } from "../providers/index.ts";
import { storageUri } from "../providers/index.ts";

/** The event types the relay sends. */
export const eventTypes = [
  "application.recording_ready",
  "application.recording_copy_failed",
  "application.recording_storage_unhealthy",
  "application.recording_storage_recovered",
] as const;

/** The destination health events. */
export type HealthEventType =
  | "application.recording_storage_unhealthy"
  | "application.recording_storage_recovered";

/** One of {@link eventTypes}. */
export type EventType = (typeof eventTypes)[number];

/** Where the recording is, by provider: a bucket, or a container in a storage account. */
type Location = { bucket_name: string } | { container: string; storage_account: string };

/** Properties of `application.recording_ready`. */
export type RecordingReadyProperties = {
  storage_provider: StorageProvider;
  storage_uri: string;
  key: string;
  /** The same value as `key`, for S3 only: consumers of the legacy flat S3 fields read it. */
  s3_key?: string;
  recording_id: string;
  epoch_ms: number;
  size_bytes: number;
  sha256: string;
  /** Seconds, from the MP4 header; absent when the header does not tell. */
  duration?: number;
} & Location;

/** Properties of `application.recording_copy_failed`. */
export interface RecordingCopyFailedProperties {
  storage_provider: StorageProvider;
  error_code: string;
  error_message: string;
  recording_id: string;
  epoch_ms: number;
  key: string;
  /** Delivery attempts made before giving up. */
  attempts: number;
  /** ISO-8601 UTC: until when the staged copy is kept for `redeliver`. */
  retained_until: string;
}

/** Properties of the destination health events. */
export interface RecordingStorageHealthProperties {
  storage_provider: StorageProvider;
  /** The destination checked (names only, never a secret). */
  recording_storage: RecordingStorage;
  /** `unhealthy` or `healthy` (recovered). */
  status: "healthy" | "unhealthy";
  /** The status before this check. */
  previous_status: "unknown" | "healthy" | "unhealthy";
  /** ISO-8601 UTC: when the check ran. */
  checked_at: string;
  /** The docs/errors.md code of the failure; null when healthy. */
  error_code: string | null;
  message: string | null;
  hint: string | null;
}

/** The properties of each event type. */
type PropertiesOf<T extends EventType> = T extends "application.recording_ready"
  ? RecordingReadyProperties
  : T extends "application.recording_copy_failed"
    ? RecordingCopyFailedProperties
    : RecordingStorageHealthProperties;

/** The seed platform's callback envelope. */
export interface EventEnvelope<T extends EventType = EventType, P = PropertiesOf<T>> {
  event_type: T;
  message_type: "application";
  conversation_id: string;
  webhook_url: string;
  /** ISO-8601 UTC, when the event was created (stable across retries). */
  timestamp: string;
  properties: P;
}

/** What a recording_ready event is built from. */
export interface RecordingReadyInput {
  destination: RecordingStorage;
  key: string;
  recordingId: string;
  epochMs: number;
  sizeBytes: number;
  /** Lowercase hex SHA-256 of the delivered bytes. */
  sha256: string;
  /** From {@link readMp4DurationSeconds}; `undefined` omits the property. */
  durationSeconds?: number | undefined;
}

function location(destination: RecordingStorage): Location {
  switch (destination.provider) {
    case "s3":
    case "gcs":
      return { bucket_name: destination.bucket_name };
    case "azure_blob":
      return { container: destination.container, storage_account: destination.storage_account };
  }
}

/** The properties of `application.recording_ready` for a delivered recording. */
export function recordingReadyProperties(input: RecordingReadyInput): RecordingReadyProperties {
  const { destination } = input;
  return {
    storage_provider: destination.provider,
    storage_uri: storageUri(destination, input.key),
    ...location(destination),
    key: input.key,
    ...(destination.provider === "s3" ? { s3_key: input.key } : {}),
    recording_id: input.recordingId,
    epoch_ms: input.epochMs,
    size_bytes: input.sizeBytes,
    sha256: input.sha256,
    ...(input.durationSeconds === undefined ? {} : { duration: input.durationSeconds }),
  };
}

/** What a recording_copy_failed event is built from. */
export interface RecordingCopyFailedInput {
  provider: StorageProvider;
  errorCode: string;
  errorMessage: string;
  recordingId: string;
  epochMs: number;
  key: string;
  attempts: number;
  retainedUntil: Date;
}

/** The properties of `application.recording_copy_failed` for a recording that could not land. */
export function recordingCopyFailedProperties(
  input: RecordingCopyFailedInput,
): RecordingCopyFailedProperties {
  return {
    storage_provider: input.provider,
    error_code: input.errorCode,
    error_message: input.errorMessage,
    recording_id: input.recordingId,
    epoch_ms: input.epochMs,
    key: input.key,
    attempts: input.attempts,
    retained_until: input.retainedUntil.toISOString(),
  };
}

/** Wraps properties in the envelope. */
export function envelope<T extends EventType>(
  eventType: T,
  fields: {
    conversationId: string;
    webhookUrl: string;
    at: Date;
    properties: EventEnvelope<T>["properties"];
  },
): EventEnvelope<T> {
  return {
    event_type: eventType,
    message_type: "application",
    conversation_id: fields.conversationId,
    webhook_url: fields.webhookUrl,
    timestamp: fields.at.toISOString(),
    properties: fields.properties,
  };
}
