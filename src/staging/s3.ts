/**
 * The S3-compatible staging store (the operator's bucket: S3, MinIO, R2…), for when several
 * machines run workers. Each append is one immutable segment object (see segments.ts), streamed
 * with lib-storage's Upload: one PUT when small, a multipart upload with a bounded queue of
 * parts when big, so memory stays at a few parts whatever the append's size.
 *
 * Operators should add a lifecycle rule aborting incomplete multipart uploads: a process killed
 * mid-append leaves its parts behind, invisible to listings but billed.
 */
import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import {
  type AppendOptions,
  assertBytePosition,
  canonicalRecordingId,
  checkedRange,
  isRecordingId,
  isStagingError,
  type ReadRange,
  StagedBytesMissingError,
  StagingError,
  type StagingStore,
} from "./contract.ts";
import {
  piecesOf,
  readPlan,
  recordingPrefix,
  type Segment,
  segmentKey,
  segmentStart,
  stagedLength,
} from "./segments.ts";
import { meteredSource, type SourceMeter } from "./source.ts";

const MiB = 1_048_576;
/** S3's minimum part; 8 MiB parts allow 80 GB per append within 10 000 parts. */
const DEFAULT_PART_BYTES = 8 * MiB;
/** Parts in flight at once: overlaps reading the source with sending, memory ≈ (queue + 1) parts. */
const DEFAULT_QUEUE_SIZE = 2;
/** DeleteObjects takes at most 1 000 keys. */
const DELETE_BATCH = 1000;

/** Settings of {@link createS3StagingStore}. */
export interface S3StagingOptions {
  /** A client with the operator's credentials, region and (for MinIO, R2…) endpoint. */
  client: S3Client;
  bucket: string;
  /** Key prefix of every staged object, e.g. "staging/"; a missing trailing slash is added. */
  prefix?: string;
  /** Multipart part size (≥ 5 MiB); default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded concurrently; default 2. */
  queueSize?: number;
}

/** Creates the S3-compatible staging store (no I/O until first used). */
export function createS3StagingStore(options: S3StagingOptions): StagingStore {
  const { client, bucket } = options;
  if (!bucket) throw new Error("S3 staging store: a bucket name is required");
  const rawPrefix = options.prefix ?? "";
  const prefix = rawPrefix === "" || rawPrefix.endsWith("/") ? rawPrefix : `${rawPrefix}/`;
  const partSize = options.partSizeBytes ?? DEFAULT_PART_BYTES;
  const queueSize = options.queueSize ?? DEFAULT_QUEUE_SIZE;
  const description = `S3 bucket s3://${bucket}/${prefix}`;
  const fail = (what: string, error: unknown, recordingId?: string) =>
    new StagingError(description, `${what} (${description}): ${awsReason(error)}`, {
      ...(recordingId ? { recordingId } : {}),
      cause: error,
    });

  /** Every object under `keyPrefix`, page by page. */
  async function* listObjects(keyPrefix: string, signal?: AbortSignal) {
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({ Bucket: bucket, Prefix: keyPrefix, ContinuationToken: token }),
        { abortSignal: signal },
      );
      yield* page.Contents ?? [];
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** The recording's segments (keys that are not segments are ignored). */
  async function listSegments(id: string, signal?: AbortSignal): Promise<Segment[]> {
    const base = recordingPrefix(prefix, id);
    const segments: Segment[] = [];
    for await (const object of listObjects(base, signal)) {
      const start = object.Key === undefined ? undefined : segmentStart(base, object.Key);
      if (start === undefined) continue;
      segments.push({ key: object.Key!, start, sizeBytes: object.Size ?? 0 });
    }
    return segments;
  }

  async function deleteKeys(keys: readonly string[], signal?: AbortSignal): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      const out = await client.send(
        new DeleteObjectsCommand({
          Bucket: bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
        { abortSignal: signal },
      );
      const failed = out.Errors?.[0];
      if (failed) {
        throw new Error(
          `DeleteObjects refused ${out.Errors!.length} key(s), e.g. ${failed.Key}: ${failed.Code} ${failed.Message ?? ""}`.trim(),
        );
      }
    }
  }

  return {
    description,

    async append(rawId, offset, source, appendOptions: AppendOptions = {}) {
      const id = canonicalRecordingId(description, rawId);
      assertBytePosition(description, id, "offset", offset);
      const { signal } = appendOptions;
      const meter: SourceMeter = { bytes: 0 };
      try {
        const segments = await listSegments(id, signal);
        const staged = stagedLength(piecesOf(segments.filter((s) => s.start < offset)));
        if (staged < offset) throw new StagedBytesMissingError(description, id, staged, offset);
        // Segments at or past the offset are a torn or unrecorded earlier append.
        await deleteKeys(
          segments.filter((s) => s.start >= offset).map((s) => s.key),
          signal,
        );

        const body = meteredSource(source, meter, {
          store: description,
          recordingId: id,
          maxBytes: appendOptions.maxBytes,
          signal,
        });
        // An empty append writes no segment: an empty object would only cost a request.
        const first = await body.next();
        if (first.done) return { bytesWritten: 0 };
        const upload = new Upload({
          client,
          params: {
            Bucket: bucket,
            Key: segmentKey(prefix, id, offset),
            Body: Readable.from(prepend(first.value, body), { objectMode: false }),
            ContentType: "application/octet-stream",
          },
          partSize,
          queueSize,
          leavePartsOnError: false,
        });
        // No upload.abort() on the signal: it would settle done() while parts are still in
        // flight, and a late PUT could land after the next append. The metered source stops
        // on abort instead, and done() settles once the upload has stopped (and was aborted).
        await upload.done();
        return { bytesWritten: meter.bytes };
      } catch (error) {
        if (meter.failure) throw meter.failure.error;
        if (isStagingError(error)) throw error;
        if (signal?.aborted) throw signal.reason;
        throw fail(`could not append recording ${id} at byte ${offset}`, error, id);
      }
    },

    read(rawId, range: ReadRange) {
      const id = canonicalRecordingId(description, rawId);
      const { start, end } = checkedRange(description, id, range);
      return readRange(id, start, end, range.signal);
    },

    async delete(rawId, signal) {
      const id = canonicalRecordingId(description, rawId);
      try {
        const keys: string[] = [];
        for await (const object of listObjects(recordingPrefix(prefix, id), signal)) {
          if (object.Key !== undefined) keys.push(object.Key);
        }
        await deleteKeys(keys, signal);
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw fail(`could not delete recording ${id}`, error, id);
      }
    },

    async *list(signal) {
      let token: string | undefined;
      do {
        let page: Awaited<ReturnType<typeof listPage>>;
        try {
          page = await listPage(token, signal);
        } catch (error) {
          if (signal?.aborted) throw signal.reason;
          throw fail("could not list staged recordings", error);
        }
        for (const common of page.CommonPrefixes ?? []) {
          const id = common.Prefix?.slice(prefix.length, -1);
          if (isRecordingId(id) && id === id.toLowerCase()) yield id;
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    },

    async check(signal) {
      const probe = `${prefix}.probe-${randomUUID()}`;
      try {
        // Listing proves the bucket exists and the prefix may be listed (append needs it).
        await client.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 }),
          {
            abortSignal: signal,
          },
        );
        await client.send(
          new PutObjectCommand({ Bucket: bucket, Key: probe, Body: "staging probe\n" }),
          { abortSignal: signal },
        );
        await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: probe }), {
          abortSignal: signal,
        });
      } catch (error) {
        if (signal?.aborted) throw signal.reason;
        throw fail("the staging bucket cannot be written", error);
      }
    },
  };

  function listPage(token: string | undefined, signal?: AbortSignal) {
    return client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        Prefix: prefix,
        Delimiter: "/",
        ContinuationToken: token,
      }),
      { abortSignal: signal },
    );
  }

  async function* readRange(
    id: string,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<Uint8Array, void, undefined> {
    if (end === 0) return;
    const what = `could not read recording ${id} bytes ${start}-${end}`;
    try {
      const pieces = piecesOf(await listSegments(id, signal));
      const staged = stagedLength(pieces);
      if (staged < end) throw new StagedBytesMissingError(description, id, staged, end);
      for (const part of readPlan(pieces, start, end)) {
        const response = await client.send(
          new GetObjectCommand({
            Bucket: bucket,
            Key: part.key,
            ...(part.whole ? {} : { Range: `bytes=${part.firstByte}-${part.endByte - 1}` }),
          }),
          { abortSignal: signal },
        );
        const expected = part.endByte - part.firstByte;
        let received = 0;
        for await (const chunk of response.Body as AsyncIterable<Uint8Array>) {
          received += chunk.byteLength;
          // Never pass on more than planned: the object changed since it was listed.
          if (received > expected) break;
          yield chunk;
        }
        if (received !== expected) {
          throw new StagingError(
            description,
            `recording ${id}: segment ${part.key} gave ${received} bytes where ${expected} were expected; it changed while being read (${description})`,
            { recordingId: id },
          );
        }
      }
    } catch (error) {
      if (isStagingError(error)) throw error;
      if (signal?.aborted) throw signal.reason;
      throw fail(what, error, id);
    }
  }
}

async function* prepend(
  first: Uint8Array,
  rest: AsyncIterable<Uint8Array>,
): AsyncGenerator<Uint8Array, void, undefined> {
  yield first;
  yield* rest;
}

/** The cloud's error name, HTTP status and message, with a hint for the usual suspects. */
function awsReason(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const hint =
    error.name === "NoSuchBucket"
      ? "the bucket does not exist: "
      : error.name === "AccessDenied" || status === 403
        ? "access denied; check the credentials and their permissions on the bucket and prefix: "
        : "";
  return `${hint}${error.name}${status ? ` (HTTP ${status})` : ""}: ${error.message}`;
}
