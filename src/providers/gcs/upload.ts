/**
 * The GCS adapter: a small upload client of our own over undici's fetch, with the access token
 * from google-auth-library 10. An object that ends within its first chunk goes up in one
 * multipart request (metadata with md5Hash and crc32c, then the bytes); a larger one through a
 * resumable session. Why not @google-cloud/storage 7: it bundles
 * google-auth-library 9 (a v10 client silently loses its Authorization header), with a custom
 * endpoint it starts resumable uploads unauthenticated, and it wants a stream where delivery
 * pushes parts as they arrive. The protocol is small: initiate, PUT chunks in 256 KiB multiples
 * (308 + Range tells what was kept), a final PUT with the total, status queries to resume.
 */
import { createHash, randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { crc32c } from "@node-rs/crc32";
import type { IdentityPoolClient } from "google-auth-library";
import { fetch } from "undici";
import {
  type AdapterInputs,
  integrityError,
  sharedDispatcher,
  withFreshCredentialRetry,
} from "../../destinations/adapter.ts";
import {
  type Destination,
  DestinationError,
  type DestinationStage,
  type LeftoverOutcome,
  type ObjectStat,
  type OpenUploadOptions,
  type Upload,
  type UploadResult,
} from "../../destinations/contract.ts";
import { messageOf, networkErrorCode } from "../../destinations/network.ts";
import {
  basePartSize,
  growingPartSizes,
  PartWriter,
  partPoolFor,
} from "../../destinations/parts.ts";
import { backoffDelayMs } from "../../destinations/settings.ts";
import { uint32Base64 } from "../../destinations/staged-checksums.ts";
import { gcsAccessToken, observeGcpAuthError } from "./credentials.ts";
import { classifyGcpFailure, type GcpHintContext, type GcpObservedFailure } from "./errors.ts";
import type { GcsAdapterSettings } from "./settings.ts";
import type { GcsStorage } from "./storage.ts";

/** The GCS resumable session a crashed worker may leave (the session URI is itself a credential: keep it server-side). */
export type GcsUploadHandle = { provider: "gcs"; key: string; sessionUri: string };

/** GCS persists resumable chunks in units of 256 KiB; every non-final chunk is a multiple. */
export const GCS_CHUNK_UNIT_BYTES = 262_144;
const DEFAULT_CHUNK_BYTES = 32 * GCS_CHUNK_UNIT_BYTES; // 8 MiB
/** No part limit in GCS; growth only bounds the number of requests for huge objects. */
const GROW_EVERY_CHUNKS = 2_000;

/** What the GCS adapter is built from: the credential is the workspace's auth client. */
export type GcsDestinationInputs = AdapterInputs<
  GcsStorage,
  IdentityPoolClient,
  GcpHintContext,
  GcsAdapterSettings
>;

/**
 * A GCP failure already observed (a failed HTTP answer of GCS, or of the token exchange with its
 * stage known): internal to this adapter, it leaves only as a classified {@link DestinationError}.
 */
class ObservedGcpFailure extends Error {
  readonly observed: GcpObservedFailure;
  constructor(observed: GcpObservedFailure) {
    super(`${observed.code}: ${observed.message}`);
    this.observed = observed;
  }
}

/** Builds the GCS destination. */
export function createGcsDestination(
  inputs: GcsDestinationInputs,
): Omit<Destination, "checkSafety"> {
  const { destination, settings, hints } = inputs;
  const bucket = destination.bucket_name;
  const base = settings.gcp.storageUrl.replace(/\/$/, "");
  // The process's dispatcher for this endpoint (session URIs are on the same origin).
  const dispatcher = sharedDispatcher(base, settings.extraCaPem);

  const fail = (error: unknown, summary: string, stage: DestinationStage = "storage") => {
    if (error instanceof DestinationError) return error;
    const observed =
      error instanceof ObservedGcpFailure ? error.observed : observeNetwork(error, stage);
    // A failure to get the access token is the identity's, whatever the request was for.
    return new DestinationError(
      identitySummary(observed.stage) ?? summary,
      classifyGcpFailure(observed, hints),
      {
        cause: error,
      },
    );
  };

  /** The summary of a token failure: the exchange or the impersonation, not the object. */
  const identitySummary = (stage: DestinationStage): string | undefined =>
    stage === "identity"
      ? "the Workload Identity Federation token exchange failed"
      : stage === "impersonation"
        ? `impersonating ${destination.service_account_email} failed`
        : undefined;

  const token = async (): Promise<string> => {
    try {
      return await gcsAccessToken(inputs.credential.get());
    } catch (error) {
      throw new ObservedGcpFailure(observeGcpAuthError(error, settings));
    }
  };

  const timed = (signal: AbortSignal) =>
    AbortSignal.any([signal, AbortSignal.timeout(settings.requestTimeoutMs)]);

  /** One authenticated request with bounded retries of transient failures. */
  const request = async (
    url: string,
    init: {
      method: string;
      headers?: Record<string, string>;
      /** A function makes a fresh stream for each try (bodies that should not be copied). */
      body?: Uint8Array | string | (() => ReadableStream<Uint8Array>);
    },
    signal: AbortSignal,
    summary: string,
    accept: (status: number) => boolean = (status) => status >= 200 && status < 300,
  ) => {
    let refreshedToken = false;
    const once = async () => {
      const response = await fetch(url, {
        method: init.method,
        headers: { authorization: `Bearer ${await token()}`, ...init.headers },
        ...(init.body === undefined
          ? {}
          : typeof init.body === "function"
            ? { body: init.body(), duplex: "half" as const }
            : { body: init.body }),
        signal: timed(signal),
        ...(dispatcher ? { dispatcher } : {}),
      });
      if (accept(response.status)) return response;
      throw new ObservedGcpFailure(await observeResponse(response, "storage"));
    };
    for (let attempt = 1; ; attempt++) {
      try {
        return await withFreshCredentialRetry(once, {
          classify: (error) => fail(error, summary),
          // A token the server no longer takes: drop the cached client and exchange again, once.
          isStale: (_classified, error) =>
            !refreshedToken &&
            error instanceof ObservedGcpFailure &&
            error.observed.stage === "storage" &&
            error.observed.httpStatus === 401,
          refresh: () => {
            refreshedToken = true;
            inputs.credential.reset();
          },
        });
      } catch (error) {
        const classified = fail(error, summary);
        signal.throwIfAborted();
        if (!classified.transient || attempt >= settings.maxAttempts) throw classified;
        await sleep(backoffDelayMs(attempt, settings.retryBaseDelayMs), undefined, { signal });
      }
    }
  };

  const objectUrl = (key: string) =>
    `${base}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(key)}`;

  return {
    provider: "gcs",

    async checkIdentity(signal) {
      signal.throwIfAborted();
      // A live check: a fresh exchange, whose client replaces the workspace's cached one.
      inputs.credential.reset();
      try {
        await gcsAccessToken(inputs.credential.get());
      } catch (error) {
        const observed = observeGcpAuthError(error, settings);
        throw new DestinationError(
          identitySummary(observed.stage) ?? "the access token request failed",
          classifyGcpFailure(observed, hints),
          { cause: error },
        );
      }
      return { exchange: "pass", impersonation: "pass" };
    },

    async openUpload(key, options) {
      return await openGcsUpload(key, options);
    },

    async stat(key, signal): Promise<ObjectStat> {
      const response = await request(
        objectUrl(key),
        { method: "GET" },
        signal,
        `could not read gs://${bucket}/${key}`,
        (status) => status === 200 || status === 404,
      );
      const body = (await response.json()) as {
        size?: string;
        md5Hash?: string;
        crc32c?: string;
        etag?: string;
        error?: { message?: string };
      };
      if (response.status === 404) {
        // The bucket's own 404 is a configuration fault, not an absent object.
        if (/bucket/i.test(body.error?.message ?? "")) {
          throw fail(
            new ObservedGcpFailure({
              stage: "storage",
              code: "notFound",
              message: body.error?.message ?? "",
              httpStatus: 404,
            }),
            `could not read gs://${bucket}/${key}`,
          );
        }
        return { exists: false };
      }
      return {
        exists: true,
        sizeBytes: Number(body.size ?? 0),
        checksums: {
          ...(body.md5Hash ? { md5Base64: body.md5Hash } : {}),
          ...(body.crc32c ? { crc32cBase64: body.crc32c } : {}),
          ...(body.etag ? { etag: body.etag } : {}),
        },
      };
    },

    async putSmallObject(key, bytes, signal) {
      await request(
        `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=media&name=${encodeURIComponent(key)}`,
        { method: "POST", headers: { "content-type": "application/octet-stream" }, body: bytes },
        signal,
        `could not write gs://${bucket}/${key}`,
      );
    },

    async deleteObject(key, signal) {
      await request(
        objectUrl(key),
        { method: "DELETE" },
        signal,
        `could not delete gs://${bucket}/${key}`,
        (status) => (status >= 200 && status < 300) || status === 404,
      );
    },

    async abortLeftover(handle, signal) {
      if (handle.provider !== "gcs") throw new Error(`not a GCS upload: ${handle.provider}`);
      return await cancelSession((handle as GcsUploadHandle).sessionUri, handle.key, signal);
    },
  };

  async function cancelSession(
    sessionUri: string,
    key: string,
    signal: AbortSignal,
  ): Promise<LeftoverOutcome> {
    try {
      // GCS answers 499 to a cancelled session; 404 (or 410) when it is already gone.
      const response = await fetch(sessionUri, {
        method: "DELETE",
        headers: { "content-length": "0" },
        signal: timed(signal),
        ...(dispatcher ? { dispatcher } : {}),
      });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return "already_gone";
      }
      // 499 is how GCS confirms the cancellation; anything else but a 2xx left the session (and
      // its bytes) in place, so it must fail (and be retried) rather than be taken as aborted.
      if (response.status !== 499 && !response.ok) {
        throw new ObservedGcpFailure(await observeResponse(response, "storage"));
      }
      await response.body?.cancel();
      return "aborted";
    } catch (error) {
      throw fail(error, `could not delete the unfinished upload of gs://${bucket}/${key}`);
    }
  }

  async function openGcsUpload(key: string, options: OpenUploadOptions): Promise<Upload> {
    const contentType = options.contentType ?? "video/mp4";
    // The resumable session is started only once the bytes outgrow the first chunk: an object that
    // ends within it goes up in one multipart request (metadata and bytes), with its md5 and crc32c
    // for GCS to check, which saves the session's initiation and leaves nothing to cancel.
    let handle: GcsUploadHandle | undefined;
    let initiating: Promise<GcsUploadHandle> | undefined;
    const startSession = (signal: AbortSignal): Promise<GcsUploadHandle> => {
      initiating ??= (async () => {
        const initiated = await request(
          `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&name=${encodeURIComponent(key)}`,
          {
            method: "POST",
            headers: {
              "content-type": "application/json; charset=UTF-8",
              "x-upload-content-type": contentType,
            },
            body: JSON.stringify({ name: key, contentType }),
          },
          signal,
          `could not write gs://${bucket}/${key} at the start of a resumable upload`,
        );
        const location = initiated.headers.get("location");
        await initiated.body?.cancel();
        if (!location) {
          throw new Error("GCS answered the resumable initiation without a Location");
        }
        const started: GcsUploadHandle = { provider: "gcs", key, sessionUri: location };
        handle = started;
        // Recorded before any chunk is sent: a crash from here on leaves it for cleanup.
        await options.onHandle?.(started);
        return started;
      })();
      return initiating;
    };
    const sessionUri = (): string => {
      if (!handle) throw new Error("no resumable session for a chunk of a larger object");
      return handle.sessionUri;
    };
    const md5 = createHash("md5");
    let crc = 0;
    let persisted = 0; // bytes GCS confirmed
    let completed: UploadResult | undefined;
    const writeSummary = `could not write gs://${bucket}/${key}`;
    const commitSummary = `could not commit gs://${bucket}/${key}`;

    /** Sends the whole object in one multipart request; resolves with GCS's object resource. */
    const putWhole = async (
      bytes: Buffer,
      digests: { md5Base64: string; crc32cBase64: string },
      signal: AbortSignal,
    ): Promise<Record<string, unknown>> => {
      const boundary = `relay-${randomBytes(16).toString("hex")}`;
      const head = Buffer.from(
        `--${boundary}\r\ncontent-type: application/json; charset=UTF-8\r\n\r\n${JSON.stringify({
          name: key,
          contentType,
          // GCS refuses the upload if the bytes it received do not give these.
          md5Hash: digests.md5Base64,
          crc32c: digests.crc32cBase64,
        })}\r\n--${boundary}\r\ncontent-type: ${contentType}\r\n\r\n`,
      );
      const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
      const response = await request(
        `${base}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=multipart&name=${encodeURIComponent(key)}`,
        {
          method: "POST",
          headers: {
            "content-type": `multipart/related; boundary=${boundary}`,
            "content-length": String(head.length + bytes.length + tail.length),
            "x-goog-hash": `crc32c=${digests.crc32cBase64},md5=${digests.md5Base64}`,
          },
          // A stream over the same memory for each try: a Buffer body would be copied.
          body: () => streamOf(head, bytes, tail),
        },
        signal,
        writeSummary,
      );
      return (await response.json()) as Record<string, unknown>;
    };

    /** PUTs `chunk` (which starts at `persisted`), resuming from what GCS kept after a failure. */
    const putChunk = async (chunk: Buffer, final: boolean, signal: AbortSignal) => {
      const start = persisted;
      const total = final ? String(start + chunk.length) : "*";
      let final200: Record<string, unknown> | undefined;
      for (let attempt = 1; ; attempt++) {
        try {
          const offset = persisted - start;
          const rest = chunk.subarray(offset);
          const range =
            rest.length === 0
              ? `bytes */${total}`
              : `bytes ${persisted}-${persisted + rest.length - 1}/${total}`;
          // The session URI authenticates the PUTs (GCS takes them without Authorization).
          const response = await fetch(sessionUri(), {
            method: "PUT",
            headers: { "content-range": range, "content-length": String(rest.length) },
            // A stream over the same memory: fetch copies a Uint8Array body, which would hold
            // every part twice.
            body: streamOf(rest),
            duplex: "half",
            signal: timed(signal),
            ...(dispatcher ? { dispatcher } : {}),
          });
          if (response.status === 308) {
            await response.body?.cancel();
            persisted = persistedFrom(response.headers.get("range"));
            if (persisted - start >= chunk.length && !final) return;
            continue; // GCS kept less than sent: send the rest.
          }
          if (response.status === 200 || response.status === 201) {
            final200 = (await response.json()) as Record<string, unknown>;
            persisted = start + chunk.length;
            break;
          }
          const observed = await observeResponse(response, "storage");
          if (response.status === 404 || response.status === 410) {
            observed.code = "session_not_found";
          }
          throw new ObservedGcpFailure(observed);
        } catch (error) {
          const classified = fail(error, final ? commitSummary : writeSummary);
          signal.throwIfAborted();
          if (
            !classified.transient ||
            classified.cloudCode === "session_not_found" ||
            attempt >= settings.maxAttempts
          ) {
            throw classified;
          }
          await sleep(backoffDelayMs(attempt, settings.retryBaseDelayMs), undefined, { signal });
          persisted = await queryPersisted(signal).catch(() => persisted);
        }
      }
      return final200;
    };

    const queryPersisted = async (signal: AbortSignal): Promise<number> => {
      const response = await fetch(sessionUri(), {
        method: "PUT",
        headers: { "content-range": "bytes */*", "content-length": "0" },
        signal: timed(signal),
        ...(dispatcher ? { dispatcher } : {}),
      });
      await response.body?.cancel();
      if (response.status === 308) return persistedFrom(response.headers.get("range"));
      throw new ObservedGcpFailure(await observeResponse(response, "storage"));
    };

    let finalObject: Record<string, unknown> | undefined;
    /** The whole object's digests, once taken (a hash can be finalised only once). */
    let digests: { md5Base64: string; crc32cBase64: string } | undefined;
    const wholeDigests = () => {
      digests ??= { md5Base64: md5.digest("base64"), crc32cBase64: uint32Base64(crc) };
      return digests;
    };
    const plan = growingPartSizes(
      basePartSize({
        expectedSizeBytes: options.expectedSizeBytes,
        defaultBytes: DEFAULT_CHUNK_BYTES,
        maxParts: 10_000,
        multipleOf: GCS_CHUNK_UNIT_BYTES,
      }),
      GROW_EVERY_CHUNKS,
    );
    const firstChunkBytes = plan(1);
    // GCS's resumable protocol is sequential: one chunk in flight, the next read and hashed meanwhile.
    const writer = new PartWriter({
      plan,
      pool: partPoolFor(settings.memoryBudgetBytes),
      inFlight: 1,
      prepare: (part) => {
        md5.update(part);
        crc = crc32c(part, crc);
      },
      send: async (part, number, final, _prepared, signal) => {
        if (final && number === 1) {
          // The whole object in one chunk (its hashes are complete: prepare ran first).
          finalObject = await putWhole(part, wholeDigests(), signal);
          return;
        }
        if (!handle) await startSession(signal);
        const answer = await putChunk(part, final, signal);
        if (final) finalObject = answer;
      },
    });

    return {
      /** Set once the object outgrew one chunk and its resumable session exists. */
      get handle() {
        return handle;
      },
      get bytesWritten() {
        return writer.bytesWritten;
      },
      async write(chunk, signal) {
        // This write fills the first chunk, so it is not the last: the chunks need a session,
        // started (and so reported to the caller) before the first chunk is handed to a slot.
        if (!handle && writer.bytesWritten + chunk.length >= firstChunkBytes) {
          await startSession(signal);
        }
        await writer.write(chunk, signal);
      },
      async complete(signal) {
        if (completed) return completed;
        await writer.finish(signal);
        const object = finalObject ?? {};
        const { md5Base64, crc32cBase64: crcBase64 } = wholeDigests();
        const size = Number(object.size ?? -1);
        if (
          size !== writer.bytesWritten ||
          object.md5Hash !== md5Base64 ||
          (object.crc32c !== undefined && object.crc32c !== crcBase64)
        ) {
          throw integrityError(
            "the object GCS stored",
            `GCS reports size ${size}, md5 ${String(object.md5Hash)}, crc32c ${String(object.crc32c)}; sent ${writer.bytesWritten} bytes, md5 ${md5Base64}, crc32c ${crcBase64}`,
          );
        }
        completed = {
          key,
          sizeBytes: size,
          checksums: { md5Base64, crc32cBase64: crcBase64 },
        };
        return completed;
      },
      async abort(signal) {
        await writer.close();
        if (completed) return;
        const session = handle ?? (await initiating?.catch(() => undefined));
        if (session) await cancelSession(session.sessionUri, key, signal).catch(() => {});
      },
    };
  }
}

function persistedFrom(range: string | null): number {
  const match = range ? /bytes=0-(\d+)/.exec(range) : null;
  return match ? Number(match[1]) + 1 : 0;
}

function observeNetwork(error: unknown, stage: DestinationStage): GcpObservedFailure {
  return {
    stage,
    code: networkErrorCode(error) ?? "UnknownError",
    message: messageOf(error),
    httpStatus: undefined,
  };
}

async function observeResponse(
  response: Awaited<ReturnType<typeof fetch>>,
  stage: DestinationStage,
): Promise<GcpObservedFailure> {
  const text = await response.text().catch(() => "");
  let code = String(response.status);
  let message = text.slice(0, 500) || response.statusText;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; errors?: { reason?: string }[]; status?: string };
    };
    code = body.error?.errors?.[0]?.reason ?? body.error?.status ?? code;
    message = body.error?.message ?? message;
  } catch {
    // Not JSON: keep the text.
  }
  return { stage, code, message, httpStatus: response.status };
}

/** A stream of `pieces`, one chunk each, without copying them. */
function streamOf(...pieces: Uint8Array[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const piece of pieces) controller.enqueue(piece);
      controller.close();
    },
  });
}
