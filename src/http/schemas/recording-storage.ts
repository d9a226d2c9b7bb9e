/**
 * OpenAPI shapes of destinations, conversations and warnings. Request bodies are validated by the
 * domain (which knows every rule and its order); these schemas document the answers and check
 * that the relay's own output has the documented shape.
 */
import { z } from "zod";

const keyTemplate = z
  .string()
  .meta({ description: "Destination key template; tokens {conversation_id} and {epoch_ms}" });

/** An S3 destination. */
export const s3StorageSchema = z.object({
  provider: z.literal("s3"),
  bucket_name: z.string(),
  bucket_region: z.string(),
  assume_role_arn: z.string(),
  key_template: keyTemplate.optional(),
});

/** A GCS destination. */
export const gcsStorageSchema = z.object({
  provider: z.literal("gcs"),
  bucket_name: z.string(),
  project_number: z.string(),
  workload_identity_pool_id: z.string(),
  workload_identity_provider_id: z.string(),
  service_account_email: z.string(),
  key_template: keyTemplate.optional(),
});

/** An Azure Blob destination. */
export const azureBlobStorageSchema = z.object({
  provider: z.literal("azure_blob"),
  tenant_id: z.string(),
  client_id: z.string(),
  storage_account: z.string(),
  container: z.string(),
  key_template: keyTemplate.optional(),
});

/** A destination (`recording_storage`). */
export const recordingStorageSchema = z
  .discriminatedUnion("provider", [s3StorageSchema, gcsStorageSchema, azureBlobStorageSchema])
  .meta({ id: "RecordingStorage" });

/** Something accepted but worth knowing. */
export const warningSchema = z.object({
  code: z.string(),
  field: z.string(),
  message: z.string(),
});

/** A recording of a conversation. */
export const recordingSummarySchema = z.object({
  recording_id: z.uuid(),
  epoch_ms: z.number(),
  key: z.string(),
  storage_uri: z.string(),
  state: z.string(),
  created_at: z.string(),
});

/** A destination's health (docs/api.md, Destination health). */
export const healthSchema = z
  .object({
    status: z.enum(["unknown", "healthy", "unhealthy"]),
    checked_at: z.string().nullable(),
    error_code: z.string().nullable(),
    message: z.string().nullable(),
    hint: z.string().nullable(),
    safety: z
      .object({
        status: z.enum(["pass", "warn", "skip"]),
        message: z.string(),
        hint: z.string().optional(),
      })
      .nullable()
      .meta({ description: "The confused-deputy self-check of the last check" }),
  })
  .meta({
    id: "DestinationHealth",
    description:
      "The last scheduled check of the destination: unknown until checked, then healthy or unhealthy with the error code, message and hint",
  });

/** A conversation as answered. */
export const conversationSchema = z.object({
  conversation_id: z.uuid(),
  status: z.string(),
  properties: z.record(z.string(), z.unknown()),
  recording_storage: recordingStorageSchema
    .nullable()
    .meta({ description: "The destination in force, key_template resolved; null when none" }),
  recording_storage_source: z.enum(["conversation", "workspace_default"]).nullable(),
  recording_storage_health: healthSchema
    .nullable()
    .meta({ description: "The destination's health; null when there is no destination" }),
  created_at: z.string(),
  recordings: z.array(recordingSummarySchema),
});
