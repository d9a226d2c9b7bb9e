import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import {
  type Conversation,
  createConversation,
  type DestinationCheck,
  findConversation,
  listConversations,
  updateConversation,
} from "../../conversations/index.ts";
import {
  type ConversationProperties,
  legacyS3Fields,
  parseConversationPatch,
  parseCreateConversation,
} from "../../conversations/properties.ts";
import type { Db } from "../../db/index.ts";
import type { VerifyReport } from "../../destinations/verify.ts";
import { isUuid } from "../../domain/ids.ts";
import {
  type AllowedNetworks,
  type AllowedPorts,
  keyTemplateOverwrites,
  overwriteWarning,
  type RelayTrust,
} from "../../domain/index.ts";
import { AppError } from "../../errors/index.ts";
import { type DestinationHealth, healthOf } from "../../health/index.ts";
import type { RecordingStorage } from "../../providers/index.ts";
import { type ValidationIssue, withKeyTemplate } from "../../providers/recording-storage.ts";
import { requireAwsAccount } from "../../providers/setup-guides.ts";
import { type RecordingSummary, recordingsOf } from "../../recordings/store.ts";
import { getDefaultRecordingStorage } from "../../workspaces/index.ts";
import { requireWorkspace } from "../auth.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { conversationSchema, warningSchema } from "../schemas/recording-storage.ts";

/** What the conversation and destination routes need. */
export interface DestinationDeps {
  db: Db;
  /** Serves the operator's setup and verify for a named workspace when present. */
  operatorToken?: string;
  trust: RelayTrust;
  /** Key template of destinations without their own (operator setting). */
  defaultKeyTemplate: string;
  /** Accept `http://` callback URLs (development). */
  allowHttpCallbacks: boolean;
  /** Live check of a new conversation's destination (S3 AssumeRole); absent: not checked. */
  checkDestination?: DestinationCheck;
  /** The live diagnostic of `POST /v2/recording-storage/verify`; absent: answered 409 NOT_CONFIGURED. */
  verifyDestination?: DestinationVerifier;
  /** Networks callbacks may reach despite the SSRF rules (development and tests). */
  callbackAllowedNetworks?: AllowedNetworks;
  /** Ports callbacks may use beyond 443, 80 and 8443 (operator setting). */
  callbackAllowedPorts?: AllowedPorts;
}

/** Runs the verify steps for a workspace's destination (from the destination adapters). */
export type DestinationVerifier = (
  destination: RecordingStorage & { key_template: string },
  context: { workspaceId: string; signal: AbortSignal },
) => Promise<VerifyReport>;

/** A domain validation issue as the 400 every route answers. */
export function validationError(issue: ValidationIssue): AppError {
  return new AppError(
    "VALIDATION_FAILED",
    issue.field ? `${issue.field}: ${issue.message}` : issue.message,
    issue.field ? { field: issue.field } : {},
  );
}

/** An AbortSignal that fires when the caller goes away. */
export function signalOf(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once("close", () => controller.abort(new Error(`request ${request.id} closed`)));
  return controller.signal;
}

const showRecording = (recording: RecordingSummary) => ({
  recording_id: recording.id,
  epoch_ms: recording.epochMs,
  key: recording.key,
  storage_uri: recording.storageUri,
  state: recording.state,
  created_at: recording.createdAt.toISOString(),
});

/** A destination's health as answered. */
export const showHealth = (health: DestinationHealth) => ({
  status: health.status,
  checked_at: health.checkedAt?.toISOString() ?? null,
  error_code: health.errorCode,
  message: health.message,
  hint: health.hint,
  safety: health.safety,
});

const showConversation = (
  conversation: Conversation,
  recordings: RecordingSummary[],
  health: DestinationHealth | null,
) => ({
  conversation_id: conversation.id,
  status: conversation.status,
  properties: conversation.properties as Record<string, unknown>,
  recording_storage: conversation.recordingStorage,
  recording_storage_source: conversation.recordingStorageSource,
  recording_storage_health: health ? showHealth(health) : null,
  created_at: conversation.createdAt.toISOString(),
  recordings: recordings.map(showRecording),
});

const securityApiKey = [{ apiKey: [] }];

/** The stored properties with a PATCH's changes applied (a new destination replaces both forms). */
function mergedProperties(
  current: ConversationProperties,
  sent: ConversationProperties,
  changes: { callbackUrl?: string | null; destination?: RecordingStorage },
): ConversationProperties {
  const merged: ConversationProperties = { ...current };
  if (changes.callbackUrl === null) delete merged.callback_url;
  else if (changes.callbackUrl !== undefined) merged.callback_url = changes.callbackUrl;
  if (changes.destination) {
    delete merged.recording_storage;
    for (const name of Object.keys(legacyS3Fields) as (keyof typeof legacyS3Fields)[]) {
      delete merged[name];
      if (sent[name] !== undefined) merged[name] = sent[name];
    }
    if (sent.recording_storage) merged.recording_storage = sent.recording_storage;
  }
  return merged;
}

/**
 * `POST/GET/PATCH /v2/conversations` and `GET /v2/conversations/{id}` (docs/api.md, Conversations).
 */
export function conversationRoutes(deps: DestinationDeps) {
  return async function conversationRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const workspaceOnly = requireWorkspace(deps.db);

    app.post(
      "/v2/conversations",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["conversations"],
          summary: "Create a conversation with its recording destination",
          description:
            "`properties`: `enable_recording` (boolean), `callback_url` (https URL), and a destination as `recording_storage` (s3, gcs or azure_blob) or as the legacy flat S3 fields `aws_assume_role_arn`, `recording_s3_bucket_name`, `recording_s3_bucket_region` (all three). Without a destination of its own, the workspace default in force now is captured. Anything that looks like a secret is refused.",
          security: securityApiKey,
          body: z.unknown(),
          response: {
            201: conversationSchema.extend({ warnings: z.array(warningSchema) }),
          },
        },
      },
      async (request, reply) => {
        const parsed = parseCreateConversation(request.body, deps);
        if (!parsed.ok) throw validationError(parsed.issue);
        const { properties, destination } = parsed.value;
        const warnings = [...parsed.warnings];
        if (destination?.provider === "s3") requireAwsAccount(deps.trust);

        let effective = destination;
        let source: "conversation" | "workspace_default" = "conversation";
        if (!effective) {
          source = "workspace_default";
          effective = await getDefaultRecordingStorage(deps.db, request.workspaceId);
          if (effective) {
            if (effective.provider === "s3") requireAwsAccount(deps.trust);
            const template = effective.key_template ?? deps.defaultKeyTemplate;
            if (keyTemplateOverwrites(template)) {
              warnings.push({
                code: "KEY_TEMPLATE_OVERWRITES",
                field: "recording_storage.key_template",
                message: `the workspace default destination's ${overwriteWarning(template)}`,
              });
            }
          }
        }
        if (properties.enable_recording === true && !effective) {
          throw validationError({
            field: "properties.recording_storage",
            message:
              "is required when enable_recording is true and the workspace has no default destination: send recording_storage (or the legacy S3 fields), or set a default with PUT /v2/recording-storage",
          });
        }
        const captured = effective ? withKeyTemplate(effective, deps.defaultKeyTemplate) : null;
        if (captured && deps.checkDestination) {
          await deps.checkDestination(captured, {
            workspaceId: request.workspaceId,
            signal: signalOf(request, reply),
            checking: source,
          });
        }
        const conversation = await createConversation(deps.db, {
          workspaceId: request.workspaceId,
          properties,
          recordingStorage: captured,
          callbackUrl: properties.callback_url ?? null,
        });
        const [health] = await healthOf(deps.db, request.workspaceId, [
          conversation.recordingStorage,
        ]);
        return reply
          .status(201)
          .send({ ...showConversation(conversation, [], health ?? null), warnings });
      },
    );

    app.get(
      "/v2/conversations",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["conversations"],
          summary: "List the workspace's conversations, newest first",
          description:
            "Cursor pagination: pass the answer's `next_cursor` as `cursor` to get the next page; `next_cursor` is null on the last page. The order (newest first, ties by id) is stable, and conversations created while paging never shift or repeat items.",
          security: securityApiKey,
          querystring: z.strictObject({
            limit: z
              .string()
              .regex(/^\d+$/, "must be a whole number from 1 to 100")
              .transform(Number)
              .pipe(
                z
                  .number()
                  .min(1, "must be a whole number from 1 to 100")
                  .max(100, "must be a whole number from 1 to 100"),
              )
              .optional()
              .meta({ description: "Page size, 1-100 (default 20)" }),
            cursor: z
              .string()
              .max(200, "is not a cursor from a previous page")
              .optional()
              .meta({ description: "The next_cursor of the previous page" }),
          }),
          response: {
            200: z.object({
              data: z.array(conversationSchema),
              next_cursor: z.string().nullable(),
            }),
          },
        },
      },
      async (request) => {
        const after = request.query.cursor ? decodeCursor(request.query.cursor, isUuid) : undefined;
        const page = await listConversations(deps.db, request.workspaceId, {
          limit: request.query.limit ?? 20,
          ...(after ? { after } : {}),
        });
        const recordings = await recordingsOf(
          deps.db,
          request.workspaceId,
          page.items.map((conversation) => conversation.id),
        );
        const health = await healthOf(
          deps.db,
          request.workspaceId,
          page.items.map((c) => c.recordingStorage),
        );
        return {
          data: page.items.map((c, index) =>
            showConversation(c, recordings.get(c.id) ?? [], health[index] ?? null),
          ),
          next_cursor: page.hasMore ? encodeCursor(page.items.at(-1)!) : null,
        };
      },
    );

    app.patch(
      "/v2/conversations/:conversation_id",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["conversations"],
          summary: "Change a conversation's callback_url and recording destination",
          description:
            "`properties` may hold `callback_url` (a URL, or null to stop events) and a destination (`recording_storage`, or the legacy flat S3 fields), each validated exactly as on creation; an S3 role is checked live with AssumeRole. Recordings started later use the new destination; a failed recording is delivered there by POST /v2/recordings/{id}/redeliver. `enable_recording` cannot be changed.",
          security: securityApiKey,
          params: z.object({ conversation_id: z.uuid("must be a conversation id (a UUID)") }),
          body: z.unknown(),
          response: {
            200: conversationSchema.extend({ warnings: z.array(warningSchema) }),
          },
        },
      },
      async (request, reply) => {
        const { conversation_id } = request.params;
        const parsed = parseConversationPatch(request.body, deps);
        if (!parsed.ok) throw validationError(parsed.issue);
        const current = await findConversation(deps.db, request.workspaceId, conversation_id);
        if (!current) throw new AppError("NOT_FOUND", `no conversation ${conversation_id}`);
        const { destination, callbackUrl, properties: sent } = parsed.value;
        const captured = destination
          ? withKeyTemplate(destination, deps.defaultKeyTemplate)
          : undefined;
        if (captured) {
          if (captured.provider === "s3") requireAwsAccount(deps.trust);
          if (deps.checkDestination) {
            await deps.checkDestination(captured, {
              workspaceId: request.workspaceId,
              signal: signalOf(request, reply),
            });
          }
        }
        const updated = await updateConversation(deps.db, request.workspaceId, conversation_id, {
          properties: mergedProperties(current.properties, sent, {
            ...(callbackUrl !== undefined ? { callbackUrl } : {}),
            ...(destination ? { destination } : {}),
          }),
          ...(captured ? { recordingStorage: captured } : {}),
          ...(callbackUrl !== undefined ? { callbackUrl } : {}),
        });
        if (!updated) throw new AppError("NOT_FOUND", `no conversation ${conversation_id}`);
        const recordings = await recordingsOf(deps.db, request.workspaceId, [updated.id]);
        const [health] = await healthOf(deps.db, request.workspaceId, [updated.recordingStorage]);
        return {
          ...showConversation(updated, recordings.get(updated.id) ?? [], health ?? null),
          warnings: parsed.warnings,
        };
      },
    );

    app.get(
      "/v2/conversations/:conversation_id",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["conversations"],
          summary: "A conversation with its recordings",
          security: securityApiKey,
          params: z.object({ conversation_id: z.uuid("must be a conversation id (a UUID)") }),
          response: { 200: conversationSchema },
        },
      },
      async (request) => {
        const { conversation_id } = request.params;
        const conversation = await findConversation(deps.db, request.workspaceId, conversation_id);
        // Another workspace's conversation is indistinguishable from a missing one.
        if (!conversation) throw new AppError("NOT_FOUND", `no conversation ${conversation_id}`);
        const recordings = await recordingsOf(deps.db, request.workspaceId, [conversation.id]);
        const [health] = await healthOf(deps.db, request.workspaceId, [
          conversation.recordingStorage,
        ]);
        return showConversation(
          conversation,
          recordings.get(conversation.id) ?? [],
          health ?? null,
        );
      },
    );
  };
}
