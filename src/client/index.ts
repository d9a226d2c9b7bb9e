/**
 * The typed client of the relay's HTTP API (`recording-relay/client`): openapi-fetch over types
 * generated from the relay's own OpenAPI document (`src/client/schema.ts`, written by
 * `npm run client:generate`; CI fails when they are stale). Paths, parameters, bodies and
 * answers are checked by the compiler:
 *
 * ```ts
 * import { createRelayClient } from "recording-relay/client";
 * const relay = createRelayClient({ baseUrl: "https://relay.example.com", operatorToken });
 * const { data, error } = await relay.GET("/v2/recordings/{recording_id}", {
 *   params: { path: { recording_id } },
 * });
 * ```
 *
 * Failures come back as `error`, the relay's `{error: {code, message, field?, details?}}`
 * (docs/errors.md); {@link relayError} reads it.
 */
import createClient, { type Client } from "openapi-fetch";
import type { paths } from "./schema.ts";

export type { paths } from "./schema.ts";

/** The typed client: `GET`, `POST`, `PATCH`, `PUT`, `DELETE`… on the relay's paths. */
export type RelayClient = Client<paths>;

/** A recording as the API shows it (`GET /v2/recordings/{recording_id}`). */
export type Recording =
  paths["/v2/recordings/{recording_id}"]["get"]["responses"][200]["content"]["application/json"];

/** How to reach and authenticate to a relay. */
export interface RelayClientOptions {
  /** The relay's base URL (`https://relay.example.com`). */
  baseUrl: string;
  /** The operator token, sent as `Authorization: Bearer` (ingest, admin). */
  operatorToken?: string;
  /** A workspace API key, sent as `x-api-key` (the workspace's own resources). */
  apiKey?: string;
  /** A fetch to use instead of the global one (tests, proxies). */
  fetch?: typeof globalThis.fetch;
}

/** A client of the relay at `options.baseUrl`. */
export function createRelayClient(options: RelayClientOptions): RelayClient {
  const headers: Record<string, string> = {};
  if (options.operatorToken) headers.authorization = `Bearer ${options.operatorToken}`;
  if (options.apiKey) headers["x-api-key"] = options.apiKey;
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    headers,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** The relay's error answer (docs/errors.md). */
export interface RelayError {
  code: string;
  message: string;
  field?: string;
  details?: Record<string, unknown>;
}

/** The relay's error in a failed call's `error`, or a generic one naming `status`. */
export function relayError(error: unknown, status: number): RelayError {
  const inner = (error as { error?: Partial<RelayError> } | undefined)?.error;
  if (inner && typeof inner.code === "string" && typeof inner.message === "string") {
    return inner as RelayError;
  }
  return { code: `HTTP_${status}`, message: `the relay answered ${status}` };
}
