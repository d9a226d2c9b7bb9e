import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { requireOperator } from "../auth.ts";

/** What `GET /metrics` serves and how requests are counted (src/runtime/metrics.ts makes it). */
export interface HttpMetrics {
  /** The exposition format's content type. */
  contentType: string;
  /** The text of every metric now (queue gauges read from the database). */
  scrape(): Promise<string>;
  /** Counts one answered request; `route` is the pattern, never the URL (bounded labels). */
  observeRequest(request: {
    method: string;
    route: string;
    statusCode: number;
    durationSeconds: number;
  }): void;
}

/**
 * `GET /metrics` (docs/operations.md, Metrics), behind the operator token: the relay has one
 * listener, usually reachable by customers' clouds for the issuer, and Prometheus sends bearer
 * tokens (`authorization` or `bearer_token_file` in a scrape config).
 */
export function metricsRoutes(deps: { metrics: HttpMetrics; operatorToken: string }) {
  return async function metricsRoutes(app: FastifyInstance): Promise<void> {
    app.get(
      "/metrics",
      {
        preHandler: requireOperator(deps.operatorToken),
        schema: {
          tags: ["operations"],
          summary: "Prometheus metrics of this process (text exposition format)",
          description:
            "Operator token required (`Authorization: Bearer`). Every metric is listed in docs/operations.md.",
          security: [{ operatorToken: [] }],
          produces: ["text/plain"],
        },
      },
      async (_request, reply) => {
        const body = await deps.metrics.scrape();
        return reply.type(deps.metrics.contentType).send(body);
      },
    );
  };
}

/** An `onResponse` hook counting every answered request by its route pattern. */
export function countRequests(metrics: HttpMetrics) {
  return async function countRequests(request: FastifyRequest, reply: FastifyReply) {
    metrics.observeRequest({
      method: request.method,
      route: request.routeOptions.url ?? "unmatched",
      statusCode: reply.statusCode,
      durationSeconds: reply.elapsedTime / 1000,
    });
  };
}
