import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import type { StagingStore } from "../../staging/index.ts";

const READINESS_TIMEOUT_MS = 2_000;

/** A problem of the operator's setup found by the start-up self-check (src/runtime/self-check.ts). */
export interface SetupWarning {
  check: string;
  code: string;
  message: string;
}

const warningSchema = z.object({
  check: z.string().meta({
    description: "aws_credentials, issuer_scheme, issuer_discovery or master_key_permissions",
  }),
  code: z.string().meta({ description: "NOT_CONFIGURED (missing) or INSECURE (unsafe)" }),
  message: z.string(),
});

/**
 * `/healthz` (the process answers) and `/readyz` (its dependencies answer too, with the start-up
 * self-check's warnings: they never make the relay unready).
 */
export function healthRoutes(
  db: Db,
  staging?: Pick<StagingStore, "check" | "description">,
  warnings: () => readonly SetupWarning[] = () => [],
) {
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
          description:
            "`warnings` lists problems of the operator's setup found at start (docs/operations.md, Self-check); they do not make the relay unready.",
          response: {
            200: z.object({
              status: z.literal("ready"),
              checks: z.record(z.string(), z.literal("ok")),
              warnings: z.array(warningSchema),
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
            details: { database: "failing", warnings: warnings() },
          });
        }
        if (!staging) {
          return {
            status: "ready" as const,
            checks: { database: "ok" as const },
            warnings: [...warnings()],
          };
        }
        try {
          await withTimeout(
            staging.check(AbortSignal.timeout(READINESS_TIMEOUT_MS)),
            READINESS_TIMEOUT_MS,
          );
        } catch (error) {
          throw new AppError("NOT_READY", `staging (${staging.description}) does not take writes`, {
            cause: error,
            details: { database: "ok", staging: "failing", warnings: warnings() },
          });
        }
        return {
          status: "ready" as const,
          checks: { database: "ok" as const, staging: "ok" as const },
          warnings: [...warnings()],
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
