/**
 * tus 1.0.0 on ingest (docs/api.md, "tus"): the resumable-upload protocol spoken by off-the-shelf
 * clients (tus-js-client, Uppy, tus-py-client…), over the same {@link Ingest} as the JSON API. A
 * tus upload is a recording: `POST /v2/tus` starts one (creation, creation-with-upload,
 * creation-defer-length), `/v2/tus/{recording_id}` is its resource (`HEAD` offset, `PATCH`
 * append with an optional `Upload-Checksum`, `DELETE` termination), and the append whose offset
 * reaches the declared `Upload-Length` completes the recording as `POST …/complete` does.
 */
import type { FastifyInstance, FastifyReply } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import { AppError } from "../../errors/index.ts";
import type { AppendChecksum, Ingest } from "../../ingest/ingest.ts";
import type { Recording } from "../../recordings/store.ts";
import { requireOperator } from "../auth.ts";
import { signalOf } from "./conversations.ts";
import { bytesOf } from "./recordings.ts";

/** What the tus routes need. */
export interface TusDeps {
  operatorToken: string;
  ingest: Ingest;
}

/** The tus endpoint; an upload's URL is this plus `/{recording_id}`. */
export const tusBasePath = "/v2/tus";

const tusVersion = "1.0.0";
const extensions = [
  "creation",
  "creation-with-upload",
  "creation-defer-length",
  "checksum",
  "termination",
  "expiration",
];
const checksumAlgorithms = ["sha1", "sha256"] as const;
const tusBody = "application/offset+octet-stream";

const securityOperator: Record<string, string[]>[] = [{ operatorToken: [] }];
const uploadId = z.object({ recording_id: z.uuid("must be an upload (recording) id, a UUID") });

/** A non-negative whole number header, or undefined when absent. */
function numberHeader(name: string, value: string | string[] | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || !/^\d{1,16}$/.test(value)) {
    throw new AppError("VALIDATION_FAILED", `${name}: must be a whole number of bytes`, {
      field: name,
    });
  }
  return Number(value);
}

/** `Upload-Metadata`: comma-separated `key base64value` (or a bare `key`) pairs. */
export function parseMetadata(header: string | string[] | undefined): Map<string, string> {
  const metadata = new Map<string, string>();
  if (typeof header !== "string" || header.trim() === "") return metadata;
  for (const pair of header.split(",")) {
    const [key, value, ...rest] = pair.trim().split(" ");
    if (!key || rest.length > 0 || (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value))) {
      throw new AppError(
        "VALIDATION_FAILED",
        "Upload-Metadata: must be comma-separated pairs of a key and a base64 value",
        { field: "Upload-Metadata" },
      );
    }
    metadata.set(key, value === undefined ? "" : Buffer.from(value, "base64").toString("utf8"));
  }
  return metadata;
}

/** `Upload-Checksum: <algorithm> <base64 digest>`; sha1 and sha256 are taken. */
function parseChecksum(header: string | string[] | undefined): AppendChecksum | undefined {
  if (header === undefined) return undefined;
  const match = typeof header === "string" ? /^(\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(header) : null;
  if (!match) {
    throw new AppError(
      "VALIDATION_FAILED",
      "Upload-Checksum: must be an algorithm and a base64 digest (`sha1 <base64>`)",
      { field: "Upload-Checksum" },
    );
  }
  const algorithm = match[1]!.toLowerCase();
  if (!(checksumAlgorithms as readonly string[]).includes(algorithm)) {
    throw new AppError(
      "VALIDATION_FAILED",
      `Upload-Checksum: algorithm ${algorithm} is not supported; use one of ${checksumAlgorithms.join(", ")} (Tus-Checksum-Algorithm)`,
      { field: "Upload-Checksum" },
    );
  }
  return {
    algorithm: algorithm as AppendChecksum["algorithm"],
    digest: Buffer.from(match[2]!, "base64"),
  };
}

function requireTusBody(contentType: string | undefined): void {
  const type = (contentType ?? "").split(";")[0]!.trim().toLowerCase();
  if (type !== tusBody) {
    throw new AppError(
      "UNSUPPORTED_MEDIA_TYPE",
      `tus appends are ${tusBody}; got ${type || "none"}`,
    );
  }
}

/** The headers telling where an upload stands. */
function offsetHeaders(reply: FastifyReply, ingest: Ingest, recording: Recording): void {
  reply.header("upload-offset", String(recording.bytesReceived));
  const expires = ingest.expiresAt(recording);
  if (expires) reply.header("upload-expires", expires.toUTCString());
}

/** The tus 1.0.0 routes (operator): discovery, creation, offset, append, termination. */
export function tusRoutes(deps: TusDeps) {
  return async function tusRoutes(parent: FastifyInstance): Promise<void> {
    // Bytes are streamed to staging as they arrive (as for the JSON appends).
    parent.addContentTypeParser(tusBody, (_request, payload, done) => done(null, payload));
    parent.addHook("onRequest", async (request) => {
      if (request.method === "OPTIONS") return;
      const version = request.headers["tus-resumable"];
      if (version !== tusVersion) {
        throw new AppError(
          "TUS_VERSION_UNSUPPORTED",
          `Tus-Resumable: this endpoint speaks tus ${tusVersion}; got ${typeof version === "string" ? version : "none"}`,
        );
      }
    });
    parent.addHook("onSend", async (_request, reply) => {
      reply.header("tus-resumable", tusVersion);
      if (reply.statusCode === 412) reply.header("tus-version", tusVersion);
    });
    const app = parent.withTypeProvider<ZodTypeProvider>();
    const operatorOnly = requireOperator(deps.operatorToken);
    const { ingest } = deps;

    app.options(
      tusBasePath,
      {
        schema: {
          tags: ["tus"],
          summary: "tus discovery: version, extensions, maximum size, checksum algorithms",
          description:
            "Unauthenticated (a browser's CORS preflight carries no token). Answers `Tus-Version`, `Tus-Extension`, `Tus-Max-Size` (RELAY_MAX_RECORDING_BYTES) and `Tus-Checksum-Algorithm`.",
        },
      },
      async (_request, reply) =>
        reply
          .status(204)
          .header("tus-version", tusVersion)
          .header("tus-extension", extensions.join(","))
          .header("tus-max-size", String(ingest.maxRecordingBytes))
          .header("tus-checksum-algorithm", checksumAlgorithms.join(","))
          .send(),
    );

    app.post(
      tusBasePath,
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["tus"],
          summary: "tus creation: start a recording as an upload (optionally with its first bytes)",
          description:
            "`Upload-Metadata` names the conversation (`conversation_id <base64>`, optionally `epoch_ms <base64>`); `Upload-Length` or `Upload-Defer-Length: 1`. An `application/offset+octet-stream` body is appended at offset 0 (creation-with-upload, `Upload-Checksum` allowed). 201 with `Location: /v2/tus/{recording_id}`.",
          security: securityOperator,
          body: z.unknown(),
        },
      },
      async (request, reply) => {
        const { headers } = request;
        const length = numberHeader("Upload-Length", headers["upload-length"]);
        const deferred = headers["upload-defer-length"];
        if (deferred !== undefined && deferred !== "1") {
          throw new AppError("VALIDATION_FAILED", "Upload-Defer-Length: must be 1", {
            field: "Upload-Defer-Length",
          });
        }
        if ((length === undefined) === (deferred === undefined)) {
          throw new AppError(
            "VALIDATION_FAILED",
            "Upload-Length: send either Upload-Length or Upload-Defer-Length: 1 (a live recording's length is unknown until it stops)",
            { field: "Upload-Length" },
          );
        }
        const metadata = parseMetadata(headers["upload-metadata"]);
        const conversationId = metadata.get("conversation_id") ?? "";
        if (!z.uuid().safeParse(conversationId).success) {
          throw new AppError(
            "VALIDATION_FAILED",
            "Upload-Metadata: conversation_id is required, the conversation's id (a UUID) in base64",
            { field: "Upload-Metadata.conversation_id" },
          );
        }
        const epoch = metadata.get("epoch_ms");
        if (epoch !== undefined && !/^\d{1,13}$/.test(epoch)) {
          throw new AppError(
            "VALIDATION_FAILED",
            "Upload-Metadata: epoch_ms must be milliseconds since 1970 (a whole number, in base64)",
            { field: "Upload-Metadata.epoch_ms" },
          );
        }
        const checksum = parseChecksum(headers["upload-checksum"]);
        if (length === 0) {
          throw new AppError(
            "RECORDING_EMPTY",
            "Upload-Length is 0: an empty file is not a recording; nothing was created",
          );
        }
        if (length !== undefined && length > ingest.maxRecordingBytes) {
          throw new AppError(
            "PAYLOAD_TOO_LARGE",
            `Upload-Length ${length} is over the ${ingest.maxRecordingBytes} bytes this relay takes (Tus-Max-Size)`,
          );
        }
        // No body is `null` here (Content-Length: 0 or none).
        const hasBody = request.body !== undefined && request.body !== null;
        if (hasBody) requireTusBody(headers["content-type"]);
        const { recording } = await ingest.start(
          conversationId,
          epoch === undefined ? undefined : Number(epoch),
        );
        let current = recording;
        if (length !== undefined) current = await ingest.declareLength(recording.id, length);
        if (hasBody && current.state === "receiving") {
          await ingest.append(recording.id, current.bytesReceived, bytesOf(request.body), {
            signal: signalOf(request, reply),
            ...(checksum ? { checksum } : {}),
          });
          current = await ingest.settle(recording.id);
        }
        reply.header("location", `${tusBasePath}/${recording.id}`);
        offsetHeaders(reply, ingest, current);
        return reply.status(201).send();
      },
    );

    app.head(
      `${tusBasePath}/:recording_id`,
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["tus"],
          summary: "tus offset: how many bytes of the upload arrived",
          description:
            "`Upload-Offset`, and `Upload-Length` (or `Upload-Defer-Length: 1`), `Upload-Expires` while receiving. A completed recording answers its length as both.",
          security: securityOperator,
          params: uploadId,
        },
      },
      async (request, reply) => {
        // An append that reached the length but whose completion failed is completed now.
        const recording = await ingest.settle(request.params.recording_id);
        if (recording.state === "purged") {
          throw new AppError("RECORDING_PURGED", `recording ${recording.id} was purged`);
        }
        offsetHeaders(reply, ingest, recording);
        const length =
          recording.state === "receiving" ? recording.uploadLength : recording.bytesReceived;
        if (length === null) reply.header("upload-defer-length", "1");
        else reply.header("upload-length", String(length));
        return reply.status(200).header("cache-control", "no-store").send();
      },
    );

    app.patch(
      `${tusBasePath}/:recording_id`,
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["tus"],
          summary: "tus append at Upload-Offset (optionally declaring a deferred Upload-Length)",
          description:
            "`Content-Type: application/offset+octet-stream`; `Upload-Offset` must equal the bytes received (409 otherwise). `Upload-Checksum` (sha1 or sha256): a mismatch is 460 and nothing is appended. The append reaching `Upload-Length` completes the recording. 204 with the new `Upload-Offset`.",
          security: securityOperator,
          params: uploadId,
          body: z.unknown(),
        },
      },
      async (request, reply) => {
        const { headers } = request;
        const id = request.params.recording_id;
        requireTusBody(headers["content-type"]);
        const offset = numberHeader("Upload-Offset", headers["upload-offset"]);
        if (offset === undefined) {
          throw new AppError("VALIDATION_FAILED", "Upload-Offset: the header is required", {
            field: "Upload-Offset",
          });
        }
        const length = numberHeader("Upload-Length", headers["upload-length"]);
        const checksum = parseChecksum(headers["upload-checksum"]);
        if (length !== undefined) await ingest.declareLength(id, length);
        await ingest.append(id, offset, bytesOf(request.body), {
          signal: signalOf(request, reply),
          ...(checksum ? { checksum } : {}),
        });
        offsetHeaders(reply, ingest, await ingest.settle(id));
        return reply.status(204).send();
      },
    );

    app.delete(
      `${tusBasePath}/:recording_id`,
      {
        preHandler: operatorOnly,
        schema: {
          tags: ["tus"],
          summary: "tus termination: abort a recording still arriving",
          description:
            "Deletes the recording and its staged bytes and aborts its live upload at the destination; afterwards the upload is 404. A completed recording is 409.",
          security: securityOperator,
          params: uploadId,
        },
      },
      async (request, reply) => {
        await ingest.terminate(request.params.recording_id);
        return reply.status(204).send();
      },
    );
  };
}
