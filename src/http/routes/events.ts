import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import type { Clock } from "../../lib/clock.ts";
import {
  type AttemptRecord,
  attemptsOf,
  eventTypes,
  findEvent,
  type LoggedEvent,
  listEvents,
  resendEvent,
} from "../../webhooks/index.ts";
import { requireWorkspace, requireWorkspaceOrOperator } from "../auth.ts";
import { decodeCursor, encodeCursor } from "../cursor.ts";
import { cursorParam, limitParam, listingScope, workspaceIdParam } from "../schemas/listing.ts";

const attemptSchema = z.object({
  attempt: z.number(),
  started_at: z.string(),
  status: z.number().nullable(),
  latency_ms: z.number(),
  response_excerpt: z.string().nullable(),
  error: z.string().nullable(),
});

const eventSchema = z.object({
  event_id: z.string().meta({ description: "The `webhook-id` header of every attempt" }),
  workspace_id: z.string(),
  event_type: z.string(),
  conversation_id: z.string(),
  recording_id: z.string().nullable(),
  state: z.enum(["pending", "delivered", "failed"]),
  attempt_count: z.number(),
  next_attempt_at: z.string().nullable(),
  created_at: z.string(),
  delivered_at: z.string().nullable(),
  last_error: z.string().nullable(),
  payload: z.record(z.string(), z.unknown()),
  attempts: z.array(attemptSchema),
});

const showAttempt = (attempt: AttemptRecord) => ({
  attempt: attempt.attempt,
  started_at: attempt.startedAt.toISOString(),
  status: attempt.status,
  latency_ms: attempt.latencyMs,
  response_excerpt: attempt.responseExcerpt,
  error: attempt.error,
});

const showEvent = (event: LoggedEvent, attempts: AttemptRecord[]) => ({
  event_id: event.id,
  workspace_id: event.workspaceId,
  event_type: event.eventType,
  conversation_id: event.conversationId,
  recording_id: event.recordingId,
  state: event.state,
  attempt_count: event.attempts,
  next_attempt_at: event.nextAttemptAt?.toISOString() ?? null,
  created_at: event.createdAt.toISOString(),
  delivered_at: event.deliveredAt?.toISOString() ?? null,
  last_error: event.lastError,
  payload: event.payload as unknown as Record<string, unknown>,
  attempts: attempts.map(showAttempt),
});

// Opaque to clients: base64url of the last item's exact position and id.
const eventIdShape = /^msg_[0-9a-f]{32}$/;

const security = [{ apiKey: [] }];
const securityEither: Record<string, string[]>[] = [{ apiKey: [] }, { operatorToken: [] }];
const eventParams = z.object({ event_id: z.string().max(100) });

/** `GET /v2/events`, `GET /v2/events/{id}` and `POST /v2/events/{id}/resend` (the webhook log). */
export function eventRoutes(deps: {
  db: Db;
  operatorToken: string;
  clock: Clock;
  wakeWebhookSender?: () => void;
}) {
  return async function eventRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const workspaceOnly = requireWorkspace(deps.db);
    const either = requireWorkspaceOrOperator(deps.db, deps.operatorToken);

    const withAttempts = async (events: LoggedEvent[]) => {
      const attempts = await attemptsOf(
        deps.db,
        events.map((event) => event.id),
      );
      return events.map((event) => showEvent(event, attempts.get(event.id) ?? []));
    };
    const notFound = (id: string) => new AppError("NOT_FOUND", `no event ${id}`);

    app.get(
      "/v2/events",
      {
        preHandler: either,
        schema: {
          tags: ["events"],
          summary: "Webhook events, newest first, with every delivery attempt",
          description:
            "A workspace key lists its own events; the operator token lists every workspace's, or one with `workspace_id`. Filters `state` and `event_type` combine. Cursor pagination: pass `next_cursor` as `cursor` for the next page (null on the last), with the same filters.",
          security: securityEither,
          querystring: z.strictObject({
            limit: limitParam,
            cursor: cursorParam,
            state: z.enum(["pending", "delivered", "failed"]).optional(),
            event_type: z.enum(eventTypes).optional(),
            workspace_id: workspaceIdParam,
          }),
          response: {
            200: z.object({ data: z.array(eventSchema), next_cursor: z.string().nullable() }),
          },
        },
      },
      async (request) => {
        const { query } = request;
        const after = query.cursor
          ? decodeCursor(query.cursor, (id) => eventIdShape.test(id))
          : undefined;
        const workspaceId = listingScope(request.workspaceId, query.workspace_id);
        const page = await listEvents(
          deps.db,
          {
            ...(workspaceId ? { workspaceId } : {}),
            ...(query.state ? { state: query.state } : {}),
            ...(query.event_type ? { eventType: query.event_type } : {}),
          },
          { limit: query.limit ?? 20, ...(after ? { after } : {}) },
        );
        const last = page.items.at(-1);
        return {
          data: await withAttempts(page.items),
          next_cursor: page.hasMore && last ? encodeCursor(last) : null,
        };
      },
    );

    app.get(
      "/v2/events/:event_id",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["events"],
          summary: "One webhook event with every delivery attempt",
          security,
          params: eventParams,
          response: { 200: eventSchema },
        },
      },
      async (request) => {
        const { event_id } = request.params;
        const event = await findEvent(deps.db, request.workspaceId, event_id);
        // Another workspace's event is indistinguishable from a missing one.
        if (!event) throw notFound(event_id);
        return (await withAttempts([event]))[0]!;
      },
    );

    app.post(
      "/v2/events/:event_id/resend",
      {
        preHandler: workspaceOnly,
        schema: {
          tags: ["events"],
          summary: "Send an event again now, with the same webhook-id",
          description:
            "Whatever its state, the event becomes due now; the next attempt signs it with the current secrets. A failed resend follows the rest of the retry schedule.",
          security,
          params: eventParams,
          response: { 202: eventSchema },
        },
      },
      async (request, reply) => {
        const { event_id } = request.params;
        const event = await resendEvent(deps.db, request.workspaceId, event_id, deps.clock.now());
        if (!event) throw notFound(event_id);
        deps.wakeWebhookSender?.();
        return reply.status(202).send((await withAttempts([event]))[0]!);
      },
    );
  };
}
