/**
 * One loopback HTTP server for the three Google APIs, routed by path, with fault injection
 * applied before a request reaches its API.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { drain, sendJson } from "../shared/http.ts";
import type { OidcKeyCache } from "../shared/oidc-keys.ts";
import type { CustomerModel } from "./config.ts";
import type { FaultApi, FaultInjector } from "./faults.ts";
import { handleGcs } from "./gcs.ts";
import { gcsError, injectedFault, rpcError } from "./google-errors.ts";
import { GENERATE_ACCESS_TOKEN_PATH, handleGenerateAccessToken } from "./iam-credentials.ts";
import type { ResumableSessions } from "./resumable.ts";
import type { ObjectStore } from "./store.ts";
import { handleStsToken } from "./sts.ts";
import type { TokenRegistry } from "./tokens.ts";

/** Everything the router dispatches to. */
export interface ServerDeps {
  model: CustomerModel;
  keys: OidcKeyCache;
  tokens: TokenRegistry;
  store: ObjectStore;
  sessions: ResumableSessions;
  faults: FaultInjector;
  now: () => number;
  allowHttpIssuer: (url: URL) => boolean;
  sessionTtlMs: number;
  /** Called once per finished or reset request. */
  onRequest: (entry: RequestLogEntry) => void;
}

/** One line of the request log. */
export interface RequestLogEntry {
  api: FaultApi | "unknown";
  method: string;
  path: string;
  status: number | "reset";
  injected: boolean;
}

function apiOf(path: string): FaultApi | undefined {
  if (path === "/v1/token") return "sts";
  if (path.startsWith("/v1/projects/")) return "iam";
  if (/^\/(resumable\/upload\/|upload\/|download\/)?storage\/v1\//.test(path)) return "gcs";
  return undefined;
}

/** Requests whose bodies the GCS handlers cut themselves, so a reset lands mid-body. */
function gcsStreams(req: IncomingMessage, url: URL): boolean {
  if (/^\/(resumable\/)?upload\//.test(url.pathname)) {
    const uploadType = url.searchParams.get("uploadType");
    return (
      url.searchParams.has("upload_id") || uploadType === "media" || uploadType === "multipart"
    );
  }
  return (
    req.method === "GET" &&
    (url.pathname.startsWith("/download/") || url.searchParams.get("alt") === "media")
  );
}

/** Starts listening; resolves with the server and its base URL. */
export async function startServer(
  deps: ServerDeps,
  host: string,
  port: number,
): Promise<{ server: Server; endpoint: string }> {
  let endpoint = "";
  const server = createServer({ requestTimeout: 0, keepAliveTimeout: 65_000 }, (req, res) => {
    void route(req, res, deps, () => endpoint).catch((error: unknown) => {
      if (!res.headersSent) {
        sendJson(
          res,
          500,
          rpcError(
            500,
            "INTERNAL",
            `Internal error: ${error instanceof Error ? error.message : String(error)}`,
          ),
        );
      } else {
        res.destroy();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const hostPart = address.family === "IPv6" ? `[${address.address}]` : address.address;
  endpoint = `http://${hostPart}:${address.port}`;
  return { server, endpoint };
}

async function route(
  req: IncomingMessage,
  res: ServerResponse,
  deps: ServerDeps,
  endpoint: () => string,
): Promise<void> {
  const url = new URL(req.url ?? "/", endpoint());
  const api = apiOf(url.pathname);
  let injected = false;
  const log = (status: number | "reset") =>
    deps.onRequest({
      api: api ?? "unknown",
      method: req.method ?? "",
      path: url.pathname,
      status,
      injected,
    });
  res.once("finish", () => log(res.statusCode));
  res.once("close", () => {
    if (!res.writableFinished) log("reset");
  });
  if (!api) {
    await drain(req);
    return sendJson(res, 404, rpcError(404, "NOT_FOUND", `No emulated API at ${url.pathname}.`));
  }
  const decision = deps.faults.decide(api);
  if (decision.latencyMs > 0) await sleep(decision.latencyMs);
  if (decision.errorStatus !== undefined) {
    injected = true;
    await drain(req);
    const fault = injectedFault(decision.errorStatus);
    const body =
      api === "gcs"
        ? gcsError(decision.errorStatus, fault.reason, fault.message)
        : rpcError(decision.errorStatus, fault.rpcStatus, fault.message);
    return sendJson(res, decision.errorStatus, body);
  }
  const streaming = api === "gcs" && gcsStreams(req, url);
  if (decision.resetAfterFraction !== undefined && !streaming) {
    injected = true;
    req.socket.destroy();
    return;
  }
  if (decision.resetAfterFraction !== undefined) injected = true;

  switch (api) {
    case "sts":
      if (req.method !== "POST") break;
      return handleStsToken(req, res, deps);
    case "iam": {
      const match = GENERATE_ACCESS_TOKEN_PATH.exec(url.pathname);
      if (!match || req.method !== "POST") break;
      return handleGenerateAccessToken(req, res, match, deps);
    }
    case "gcs": {
      const handled = await handleGcs(
        req,
        res,
        url,
        { ...deps, endpoint },
        {
          resetAfterFraction: decision.resetAfterFraction,
        },
      );
      if (handled) return;
      break;
    }
  }
  await drain(req);
  sendJson(
    res,
    404,
    api === "gcs"
      ? gcsError(404, "notFound", "Not Found")
      : rpcError(404, "NOT_FOUND", "Not Found"),
  );
}
