/**
 * Admin commands against a running relay (docs/operations.md, Admin while serving): the embedded
 * database belongs to one process, so while `serve` holds it the commands call its HTTP API
 * with the operator token instead of opening the database. The target is `--url`/`RELAY_URL`
 * when given, otherwise the live `serve` named in `<data dir>/serve.json`.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Config } from "../config/index.ts";
import { AppError, type ErrorCode, errorCodes } from "../errors/index.ts";
import { findLiveServe } from "../runtime/serve-file.ts";

/** A running relay and the operator token to call it with. */
export interface RemoteRelay {
  url: string;
  token: string;
  /** Calls the API; answers the JSON body, or throws the relay's error as an AppError. */
  call(method: string, path: string, body?: unknown): Promise<unknown>;
}

function operatorTokenFor(config: Config): string {
  if (config.operatorToken) return config.operatorToken;
  try {
    return readFileSync(join(config.dataDir, "operator-token"), "utf8").trim();
  } catch {
    throw new AppError(
      "INVALID_CONFIG",
      "calling a running relay needs the operator token: set RELAY_OPERATOR_TOKEN (or run the command where the relay's data directory keeps it)",
    );
  }
}

/** The running relay a command should call, or `undefined` to open the database itself. */
export function remoteRelay(config: Config): RemoteRelay | undefined {
  const url = config.relayUrl ?? (config.databaseUrl ? undefined : findLiveServe(config.dataDir));
  if (!url) return undefined;
  const token = operatorTokenFor(config);
  return {
    url,
    token,
    async call(method, path, body) {
      let response: Response;
      try {
        response = await fetch(`${url}${path}`, {
          method,
          headers: {
            authorization: `Bearer ${token}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
          signal: AbortSignal.timeout(6 * 60_000),
        });
      } catch (error) {
        throw new AppError(
          "NOT_READY",
          `could not reach the relay at ${url} (${(error as Error).message}); is it running? (set --url or RELAY_URL to another one)`,
          { cause: error },
        );
      }
      const text = await response.text();
      const parsed: unknown = text ? JSON.parse(text) : undefined;
      if (response.ok) return parsed;
      const error = (parsed as { error?: { code?: string; message?: string; field?: string } })
        ?.error;
      const code = error?.code && error.code in errorCodes ? (error.code as ErrorCode) : undefined;
      throw new AppError(
        code ?? "INTERNAL_ERROR",
        `the relay at ${url} answered ${response.status}: ${error?.message ?? text}`,
        error?.field ? { field: error.field } : {},
      );
    },
  };
}
