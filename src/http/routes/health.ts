import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import type { StagingStore } from "../../staging/index.ts";

const READINESS_TIMEOUT_MS = 2_000;

/** `/healthz` (the process answers) and `/readyz` (its dependencies answer too). */
export function healthRoutes(db: Db, staging?: Pick<StagingStore, "check" | "description">) {
  return async function healthRoutes(app: FastifyInstance): Promise<void> {
    app.get(
      "/healthz",
      {
        schema: {
          tags: ["operations"],
          summary: "Liveness",
          response: { 200: z.object({ status: z.literal("ok") }) },
        },
      },
      async () => ({ status: "ok" as const }),
    );
    app.get(
      "/readyz",
      {
        schema: {
          tags: ["operations"],
          summary: "Readiness: the database answers and staging takes writes",
          response: {
            200: z.object({
              status: z.literal("ready"),
              checks: z.record(z.string(), z.literal("ok")),
            }),
          },
        },
      },
      async () => {
        try {
          await withTimeout(db.query("SELECT 1"), READINESS_TIMEOUT_MS);
        } catch (error) {
          throw new AppError("NOT_READY", "the database is not reachable", {
            cause: error,
            details: { database: "failing" },
          });
        }
        if (!staging) return { status: "ready" as const, checks: { database: "ok" as const } };
        try {
          await withTimeout(
            staging.check(AbortSignal.timeout(READINESS_TIMEOUT_MS)),
            READINESS_TIMEOUT_MS,
          );
        } catch (error) {
          throw new AppError("NOT_READY", `staging (${staging.description}) does not take writes`, {
            cause: error,
            details: { database: "ok", staging: "failing" },
          });
        }
        return {
          status: "ready" as const,
          checks: { database: "ok" as const, staging: "ok" as const },
        };
      },
    );
  };
}

async function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
