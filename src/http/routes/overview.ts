import type { FastifyInstance } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { queueStats } from "../../delivery/queue.ts";
import type { Clock } from "../../lib/clock.ts";
import { recordingOverview } from "../../recordings/store.ts";
import { requireOperator } from "../auth.ts";

const DAY_MS = 86_400_000;

/** `GET /v2/delivery-overview`: the operator's delivery picture at a glance (docs/api.md, Listings). */
export function overviewRoutes(deps: { db: Db; operatorToken: string; clock: Clock }) {
  return async function overviewRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();
    app.get(
      "/v2/delivery-overview",
      {
        preHandler: requireOperator(deps.operatorToken),
        schema: {
          tags: ["recordings"],
          summary: "Delivery overview (operator)",
          description:
            "Recordings by state, failed recordings of the last 24 h by latest error code and provider, and the queue's depth and oldest queued delivery.",
          security: [{ operatorToken: [] }],
          response: {
            200: z.object({
              recordings_by_state: z.record(z.string(), z.number()),
              failures_last_24h: z.array(
                z.object({ error_code: z.string(), provider: z.string(), count: z.number() }),
              ),
              queue: z.object({
                queued: z.number(),
                running: z.number(),
                oldest_queued_age_seconds: z.number(),
              }),
              generated_at: z.string(),
            }),
          },
        },
      },
      async () => {
        const now = deps.clock.now();
        const [overview, queue] = await Promise.all([
          recordingOverview(deps.db, new Date(now - DAY_MS)),
          queueStats(deps.db, now),
        ]);
        return {
          recordings_by_state: overview.byState,
          failures_last_24h: overview.failures.map((row) => ({
            error_code: row.errorCode,
            provider: row.provider,
            count: row.count,
          })),
          queue: {
            queued: queue.queued,
            running: queue.running,
            oldest_queued_age_seconds: Math.round(queue.oldestQueuedAgeSeconds),
          },
          generated_at: new Date(now).toISOString(),
        };
      },
    );
  };
}
