import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { deliverySummary } from "../../delivery/queue.ts";
import { redeliver, redeliverFailed } from "../../delivery/redeliver.ts";
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import type { Ingest } from "../../ingest/ingest.ts";
import type { Clock } from "../../lib/clock.ts";
import type { RecordingStorage } from "../../providers/index.ts";
import { validateRecordingStorage, withKeyTemplate } from "../../providers/recording-storage.ts";
import { requireAwsAccount } from "../../providers/setup-guides.ts";
import { findRecording, listRecordings, type Recording } from "../../recordings/store.ts";
import type { StagingStore } from "../../staging/index.ts";
import { requireOperator, requireWorkspace, requireWorkspaceOrOperator } from "../auth.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import {
  cursorParam,
  instantParam,
  limitParam,
  listingScope,
  workspaceIdParam,
} from "../schemas/listing.ts";
import { recordingStorageSchema } from "../schemas/recording-storage.ts";
import { type DestinationDeps, signalOf, validationError } from "./conversations.ts";
import { sendRecordingContent } from "./recording-content.ts";

/** What the recording routes need. */
export interface RecordingDeps extends DestinationDeps {
  operatorToken: string;
  ingest: Ingest;
  clock: Clock;
  /** Where the retained copies are read from (`GET /v2/recordings/{id}/content`). */
  staging?: Pick<StagingStore, "read">;
}

/** Content types of recording bytes (`offset+octet-stream` is what tus clients send). */
const byteTypes = ["application/octet-stream", "application/offset+octet-stream", "video/mp4"];

const recordingId = z.object({ recording_id: z.uuid("must be a recording id (a UUID)") });

export const recordingSchema = z.object({
  recording_id: z.string(),
  workspace_id: z.string(),
  conversation_id: z.string(),
  epoch_ms: z.number(),
  key: z.string(),
  storage_uri: z.string(),
  storage_provider: z.enum(["s3", "gcs", "azure_blob"]),
  state: z.enum(["receiving", "complete", "delivered", "failed", "purged"]),
  bytes_received: z.number(),
  sha256: z.string().nullable(),
  duration: z.number().nullable(),
  delivery: z
    .object({
      state: z.enum(["queued", "running", "succeeded", "failed"]),
      attempts: z.number(),
      next_attempt_at: z.string().nullable(),
      error_code: z.string().nullable(),
      error_message: z.string().nullable(),
      destination: recordingStorageSchema
        .nullable()
        .meta({ description: "Where the latest delivery writes (null on older deliveries)" }),
    })
    .nullable(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  retained_until: z.string().nullable(),
});

export async function showRecording(db: Db, recording: Recording) {
  const delivery = await deliverySummary(db, recording.id);
  return {
    recording_id: recording.id,
    workspace_id: recording.workspaceId,
    conversation_id: recording.conversationId,
    epoch_ms: recording.epochMs,
    key: recording.key,
    storage_uri: recording.storageUri,
    storage_provider: recording.storage.provider,
    state: recording.state,
    bytes_received: recording.bytesReceived,
    sha256: recording.sha256,
    duration: recording.durationSeconds,
    delivery: delivery
      ? {
          state: delivery.state,
          attempts: delivery.attempts,
          next_attempt_at: delivery.nextAttemptAt?.toISOString() ?? null,
          error_code: delivery.lastErrorCode,
          error_message: delivery.lastErrorMessage,
          destination: delivery.destination,
        }
      : null,
    created_at: recording.createdAt.toISOString(),
    completed_at: recording.completedAt?.toISOString() ?? null,
    delivered_at: recording.deliveredAt?.toISOString() ?? null,
    retained_until: recording.retainedUntil?.toISOString() ?? null,
  };
}

/** Parses `Upload-Offset`: a non-negative integer, required. */
function uploadOffset(header: string | string[] | undefined): number {
  if (typeof header !== "string" || !/^\d{1,16}$/.test(header)) {
    throw new AppError(
      "VALIDATION_FAILED",
      "Upload-Offset: the header is required, the number of bytes received so far (a whole number)",
      { field: "Upload-Offset" },
    );
  }
  return Number(header);
}

/** The request body as bytes; an absent body (`Content-Length: 0`) is empty. */
export async function* bytesOf(body: unknown): AsyncIterable<Uint8Array> {
  if (body === undefined || body === null) return;
  yield* body as AsyncIterable<Uint8Array>;
}

const startBody = z
  .strictObject({
    epoch_ms: z.number().int().min(0).max(9_999_999_999_999).optional().meta({
      description:
        "When the recording started; default now. Retrying a start with the same value returns the same recording.",
    }),
  })
  .optional();

const completeBody = z
  .strictObject({
    size_bytes: z.number().int().min(0).optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, "must be 64 hexadecimal characters")
      .optional(),
  })
  .optional();

const redeliverBody = z
  .strictObject({
    recording_storage: z.unknown().optional().meta({
      description:
        "Where to deliver (a recording_storage object, validated as on conversation creation); absent: the conversation's destination",
    }),
  })
  .nullish();

const isoTime = (what: string) =>
  z.iso
    .datetime({ offset: true, message: "must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z" })
    .optional()
    .meta({ description: what });

const bulkRedeliverBody = z.strictObject({
  error_code: z
    .string()
    .regex(/^[A-Z_]{3,64}$/, "must be an error code such as DESTINATION_AUTH_FAILED")
    .optional()
    .meta({ description: "Only recordings whose last delivery failed with this code" }),
  conversation_id: z.uuid("must be a conversation id (a UUID)").optional(),
  created_from: isoTime("Only recordings created at or after this time"),
  created_before: isoTime("Only recordings created before this time"),
  recording_storage: z.unknown().optional().meta({
    description: "Where to deliver them all; absent: each conversation's destination",
  }),
});

const securityOperator: Record<string, string[]>[] = [{ operatorToken: [] }];
const securityEither: Record<string, string[]>[] = [{ apiKey: [] }, { operatorToken: [] }];

/**
 * The recording routes (docs/api.md, Ingest and Delivery): ingest (operator), read and redeliver
 * (workspace or operator).
 */
export function recordingRoutes(deps: RecordingDeps) {
  return async function recordingRoutes(parent: FastifyInstance): Promise<void> {
    // Recording bytes are streamed to staging as they arrive, never parsed or buffered; only
    // these routes accept them (everywhere else such a body is 415).
    parent.addContentTypeParser(byteTypes, (_request, payload, done) => done(null, payload));
    // Any other type here (curl's default form encoding, text) is refused with what these routes
    // take, rather than the JSON-only advice of the rest of the API.
    parent.addContentTypeParser("*", (request, _payload, done) =>
      done(
        new AppError(
          "UNSUPPORTED_MEDIA_TYPE",
          `recording bytes are ${byteTypes.join(", ")} (starting or completing a recording takes application/json); got ${request.headers["content-type"] ?? "none"}`,
        ),
        undefined,
      ),
    );
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const operatorOnly = requireOperator(deps.operatorToken);
    const either = requireWorkspaceOrOperator(deps.db, deps.operatorToken);

    app.post(
      "/v2/conversations/:conversation_id/recordings",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["recordings"],
          summary: "Start a recording (JSON body), or upload one whole (a video/mp4 body)",
          description:
            "With `application/json` (or no body): starts a recording instance and fixes its key; append with PATCH /v2/recordings/{id}, then complete. With `video/mp4` or `application/octet-stream`: the body is the whole recording, staged, completed and queued for delivery in one request; a body that is empty, too large or cut short leaves no recording.",
          security: securityOperator,
          params: z.object({ conversation_id: z.uuid("must be a conversation id (a UUID)") }),
          body: z.unknown(),
          response: { 200: recordingSchema, 201: recordingSchema, 202: recordingSchema },
        },
      },
      async (request, reply) => {
        const { conversation_id } = request.params;
        const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim();
        if (byteTypes.includes(contentType.toLowerCase())) {
          const completed = await deps.ingest.uploadWhole(
            conversation_id,
            bytesOf(request.body),
            signalOf(request, reply),
          );
          return reply.status(202).send(await showRecording(deps.db, completed));
        }
        const parsed = startBody.safeParse(request.body ?? undefined);
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!;
          const field = issue.path.join(".");
          throw new AppError("VALIDATION_FAILED", `${field || "body"}: ${issue.message}`, {
            ...(field ? { field } : {}),
          });
        }
        const { recording, created } = await deps.ingest.start(
          conversation_id,
          parsed.data?.epoch_ms,
        );
        return reply.status(created ? 201 : 200).send(await showRecording(deps.db, recording));
      },
    );

    app.patch(
      "/v2/recordings/:recording_id",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["recordings"],
          summary: "Append bytes at Upload-Offset",
          description:
            "`Upload-Offset` must equal the bytes received so far; otherwise 409 with the current `Upload-Offset`, so a producer can retry any append safely. The bytes are durable when the 204 arrives.",
          security: securityOperator,
          params: recordingId,
          body: z.unknown(),
        },
      },
      async (request, reply) => {
        const offset = uploadOffset(request.headers["upload-offset"]);
        const contentType = (request.headers["content-type"] ?? "").split(";")[0]!.trim();
        if (request.body !== undefined && !byteTypes.includes(contentType.toLowerCase())) {
          throw new AppError(
            "UNSUPPORTED_MEDIA_TYPE",
            `append bodies are ${byteTypes.join(", ")}; got ${contentType || "none"}`,
          );
        }
        const next = await deps.ingest.append(
          request.params.recording_id,
          offset,
          bytesOf(request.body),
          { signal: signalOf(request, reply) },
        );
        return reply.status(204).header("upload-offset", String(next)).send();
      },
    );

    app.post(
      "/v2/recordings/:recording_id/complete",
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["recordings"],
          summary: "Stop: check what arrived and queue the delivery",
          security: securityOperator,
          params: recordingId,
          body: completeBody,
          response: { 202: recordingSchema },
        },
      },
      async (request, reply) => {
        const recording = await deps.ingest.complete(request.params.recording_id, {
          ...(request.body?.size_bytes !== undefined ? { sizeBytes: request.body.size_bytes } : {}),
          ...(request.body?.sha256 !== undefined ? { sha256: request.body.sha256 } : {}),
        });
        return reply.status(202).send(await showRecording(deps.db, recording));
      },
    );

    app.get(
      "/v2/recordings/:recording_id",
      {
        preHandler: either,
        schema: {
          tags: ["recordings"],
          summary: "A recording: state, delivery attempts, last error, retained_until",
          security: securityEither,
          params: recordingId,
          response: { 200: recordingSchema },
        },
      },
      async (request) => {
        const id = request.params.recording_id;
        const recording = await findRecording(deps.db, id, request.workspaceId || undefined);
        if (!recording) throw new AppError("NOT_FOUND", `no recording ${id}`);
        return await showRecording(deps.db, recording);
      },
    );

    /** A destination given with a redelivery, validated and checked as on creation. */
    const destinationOf = async (
      input: unknown,
      workspaceId: string,
      signal: AbortSignal,
    ): Promise<(RecordingStorage & { key_template: string }) | undefined> => {
      if (input === undefined) return undefined;
      const result = validateRecordingStorage(input, "recording_storage", deps);
      if (!result.ok) throw validationError(result.issue);
      if (result.value.provider === "s3") requireAwsAccount(deps.trust);
      const destination = withKeyTemplate(result.value, deps.defaultKeyTemplate);
      await deps.checkDestination?.(destination, { workspaceId, signal });
      return destination;
    };

    app.post(
      "/v2/recordings/:recording_id/redeliver",
      {
        preHandler: either,
        schema: {
          tags: ["recordings"],
          summary: "Deliver again from the retained staged copy, optionally to another destination",
          description:
            "Without a body: to the conversation's destination (which PATCH /v2/conversations/{id} may have changed). With `recording_storage`: to that destination, validated as on conversation creation (an S3 role is checked live). When the destination differs from the one the key was made for, the key and storage_uri are rendered again for it. Each delivery records its destination (`delivery.destination`).",
          security: securityEither,
          params: recordingId,
          body: redeliverBody,
          response: { 202: recordingSchema },
        },
      },
      async (request, reply) => {
        const id = request.params.recording_id;
        // The recording is looked up first, so another workspace's id answers 404, not a 400.
        const found = await findRecording(deps.db, id, request.workspaceId || undefined);
        if (!found) throw new AppError("NOT_FOUND", `no recording ${id}`);
        const destination = await destinationOf(
          request.body?.recording_storage,
          found.workspaceId,
          signalOf(request, reply),
        );
        const recording = await redeliver(deps.db, id, {
          ...(request.workspaceId ? { workspaceId: request.workspaceId } : {}),
          nowMs: deps.clock.now(),
          ...(destination ? { destination } : {}),
        });
        return reply.status(202).send(await showRecording(deps.db, recording));
      },
    );

    app.post(
      "/v2/recordings/redeliver",
      {
        preHandler: requireWorkspace(deps.db),
        schema: {
          tags: ["recordings"],
          summary: "Redeliver the workspace's failed recordings that match a filter",
          description:
            "Queues a redelivery of each failed recording of the workspace still within its retention that matches every filter given (`error_code` of its last delivery, `conversation_id`, creation time range), to `recording_storage` when given, else to each conversation's destination. Answers how many were queued (at most 1000 per request; repeat it for more).",
          security: [{ apiKey: [] }],
          body: bulkRedeliverBody,
          response: {
            202: z.object({
              queued: z.number(),
              recording_ids: z.array(z.string()),
            }),
          },
        },
      },
      async (request, reply) => {
        const body = request.body;
        const destination = await destinationOf(
          body.recording_storage,
          request.workspaceId,
          signalOf(request, reply),
        );
        const result = await redeliverFailed(
          deps.db,
          request.workspaceId,
          {
            ...(body.error_code ? { errorCode: body.error_code } : {}),
            ...(body.conversation_id ? { conversationId: body.conversation_id } : {}),
            ...(body.created_from ? { createdFrom: new Date(body.created_from) } : {}),
            ...(body.created_before ? { createdBefore: new Date(body.created_before) } : {}),
          },
          { nowMs: deps.clock.now(), ...(destination ? { destination } : {}) },
        );
        return reply
          .status(202)
          .send({ queued: result.queued, recording_ids: result.recordingIds });
      },
    );

    app.get(
      "/v2/recordings/:recording_id/content",
      {
        preHandler: either,
        schema: {
          tags: ["recordings"],
          summary: "Download the retained staged copy (video/mp4; Range supported)",
          description:
            "While the recording is retained (delivered within its grace, or failed within the retention): 200 with the whole copy, or 206 for a `Range: bytes=…` request (one range), 416 when the range cannot be satisfied. `ETag` is the SHA-256 in quotes. After retention: 410 with the purge date. Only complete recordings (delivered, failed, or being delivered) can be downloaded.",
          security: securityEither,
          params: recordingId,
        },
      },
      async (request, reply) => {
        const id = request.params.recording_id;
        const recording = await findRecording(deps.db, id, request.workspaceId || undefined);
        if (!recording) throw new AppError("NOT_FOUND", `no recording ${id}`);
        if (!deps.staging) {
          throw new AppError("NOT_CONFIGURED", "this process does not read the staging store");
        }
        return await sendRecordingContent(request, reply, {
          recording,
          staging: deps.staging,
          nowMs: deps.clock.now(),
        });
      },
    );
  };
}

/**
 * `GET /v2/recordings` (docs/api.md, Recordings listing): a workspace's recordings, or every
 * workspace's for the operator, filtered and paged. Served by every process with HTTP, ingesting
 * or not.
 */
export function recordingListRoutes(deps: { db: Db; operatorToken: string }) {
  return async function recordingListRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const either = requireWorkspaceOrOperator(deps.db, deps.operatorToken);
    app.get(
      "/v2/recordings",
      {
        preHandler: either,
        schema: {
          tags: ["recordings"],
          summary: "Recordings, newest first, filtered by state, provider, error code and time",
          description:
            "A workspace key lists its own recordings; the operator token lists every workspace's, or one with `workspace_id`. Filters combine: `state`, `provider`, `error_code` (of the latest delivery), `created_after` (inclusive) and `created_before` (exclusive), RFC 3339. Cursor pagination: pass `next_cursor` as `cursor` with the same filters (null on the last page).",
          security: securityEither,
          querystring: z.strictObject({
            limit: limitParam,
            cursor: cursorParam,
            state: z.enum(["receiving", "complete", "delivered", "failed", "purged"]).optional(),
            provider: z.enum(["s3", "gcs", "azure_blob"]).optional(),
            error_code: z
              .string()
              .regex(/^[A-Z][A-Z0-9_]{0,63}$/, "must be an error code like DESTINATION_AUTH_FAILED")
              .optional(),
            created_after: instantParam,
            created_before: instantParam,
            workspace_id: workspaceIdParam,
          }),
          response: {
            200: z.object({ data: z.array(recordingSchema), next_cursor: z.string().nullable() }),
          },
        },
      },
      async (request) => {
        const { query } = request;
        const after = query.cursor ? decodeCursor(query.cursor, isUuid) : undefined;
        const workspaceId = listingScope(request.workspaceId, query.workspace_id);
        const page = await listRecordings(
          deps.db,
          {
            ...(workspaceId ? { workspaceId } : {}),
            ...(query.state ? { state: query.state } : {}),
            ...(query.provider ? { provider: query.provider } : {}),
            ...(query.error_code ? { errorCode: query.error_code } : {}),
            ...(query.created_after ? { createdAfter: query.created_after } : {}),
            ...(query.created_before ? { createdBefore: query.created_before } : {}),
          },
          { limit: query.limit ?? 20, ...(after ? { after } : {}) },
        );
        const data = [];
        for (const recording of page.items) data.push(await showRecording(deps.db, recording));
        const last = page.items.at(-1);
        return { data, next_cursor: page.hasMore && last ? encodeCursor(last) : null };
      },
    );
  };
}
