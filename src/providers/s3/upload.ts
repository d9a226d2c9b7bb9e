/**
 * The S3 adapter: an object that ends within its first part goes up in one PutObject with its
 * CRC32 (S3 verifies it and echoes it back); a larger one as a multipart upload fed part by part
 * (CRC32 per part, computed here and sent as the part's checksum so S3 verifies our bytes), the
 * whole object's CRC32 (FULL_OBJECT) sent and checked at completion, and AbortMultipartUpload on
 * failure.
 */
import { crc32 } from "node:zlib";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { integrityError, withFreshCredentialRetry } from "../../destinations/adapter.ts";
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
import {
  basePartSize,
  growingPartSizes,
  MiB,
  PartWriter,
  partPoolFor,
} from "../../destinations/parts.ts";
import type { CommonDestinationSettings } from "../../destinations/settings.ts";
import { uint32Base64 } from "../../destinations/staged-checksums.ts";
import { StsExchangeError } from "./credentials.ts";
import { type AwsHintContext, classifyAwsFailure, observeAwsError } from "./errors.ts";
import type { S3Storage } from "./storage.ts";

/** The S3 multipart upload a crashed worker may leave (its UploadId). */
export type S3UploadHandle = { provider: "s3"; key: string; uploadId: string };

/** S3's limits: 10 000 parts, 5 MiB minimum for all but the last. */
const MAX_PARTS = 10_000;
const MIN_PART_BYTES = 5 * MiB;
/** Default part: small enough for bounded memory, 1 000 of them before the size doubles. */
const DEFAULT_PART_BYTES = 8 * MiB;
const GROW_EVERY_PARTS = 1_000;

/** Codes after which fresh credentials may succeed where the cached ones failed. */
const staleCredentialCodes = new Set(["ExpiredToken", "InvalidToken", "InvalidAccessKeyId"]);

/** What the S3 adapter is built from. */
export interface S3DestinationInputs {
  destination: S3Storage;
  client: S3Client;
  hints: AwsHintContext;
  /** Parts in flight and the process's part memory budget. */
  settings: Pick<CommonDestinationSettings, "partsInFlight" | "memoryBudgetBytes">;
}

/** The part size plan for an expected size: never more than 10 000 parts up to 5 TiB. */
export function s3PartSizes(expectedSizeBytes: number | undefined) {
  const base = basePartSize({
    expectedSizeBytes,
    defaultBytes: Math.max(MIN_PART_BYTES, DEFAULT_PART_BYTES),
    // Head-room: a recording may grow a little past the size announced.
    maxParts: MAX_PARTS / 2,
  });
  return growingPartSizes(base, GROW_EVERY_PARTS);
}

/** The base64 big-endian CRC32 of bytes, as S3 writes `x-amz-checksum-crc32`. */
export function crc32Base64(bytes: Uint8Array): string {
  return uint32Base64(crc32(bytes));
}

/** Builds the S3 destination. */
export function createS3Destination(inputs: S3DestinationInputs): Omit<Destination, "checkSafety"> {
  const { destination, client, hints, settings } = inputs;
  const bucket = destination.bucket_name;

  const fail = (error: unknown, stage: DestinationStage, summary: string): DestinationError => {
    if (error instanceof DestinationError) return error;
    const failure = classifyAwsFailure(observeAwsError(error, stage), hints);
    return new DestinationError(summary, failure, { cause: error });
  };

  /** The classified failure of a command: an STS failure inside is the identity's fault. */
  const classify = (error: unknown, summary: string): DestinationError => {
    const sts = stsCause(error);
    return sts
      ? fail(sts.cause, "identity", identitySummary(hints))
      : fail(error, "storage", summary);
  };

  /** Sends a command; on stale credentials refreshes them once and sends again. */
  const send = <T>(run: () => Promise<T>, summary: string): Promise<T> => {
    const refreshes = refreshStateOf(client);
    const generation = refreshes.generation;
    return withFreshCredentialRetry(run, {
      classify: (error) => classify(error, summary),
      isStale: (classified) =>
        classified.stage === "storage" && staleCredentialCodes.has(classified.cloudCode),
      refresh: async () => {
        // Parts in flight fail together when a session expires: one exchange serves them all.
        if (refreshes.generation !== generation) return;
        refreshes.pending ??= client.config
          .credentials({ forceRefresh: true })
          .then(() => undefined)
          .finally(() => {
            refreshes.generation++;
            refreshes.pending = undefined;
          });
        try {
          await refreshes.pending;
        } catch (refreshError) {
          throw fail(
            stsCause(refreshError)?.cause ?? refreshError,
            "identity",
            identitySummary(hints),
          );
        }
      },
    });
  };

  return {
    provider: "s3",

    async checkIdentity(signal) {
      signal.throwIfAborted();
      try {
        await client.config.credentials({ forceRefresh: true });
      } catch (error) {
        throw fail(stsCause(error)?.cause ?? error, "identity", identitySummary(hints));
      }
      return { exchange: "pass", impersonation: "skip" };
    },

    async openUpload(key, options) {
      return await openS3Upload(key, options);
    },

    async stat(key, signal): Promise<ObjectStat> {
      try {
        const head = await send(
          () =>
            client.send(
              new HeadObjectCommand({ Bucket: bucket, Key: key, ChecksumMode: "ENABLED" }),
              { abortSignal: signal },
            ),
          `could not read s3://${bucket}/${key}`,
        );
        return {
          exists: true,
          sizeBytes: head.ContentLength ?? 0,
          checksums: {
            ...(head.ChecksumCRC32 ? { crc32Base64: head.ChecksumCRC32 } : {}),
            ...(head.ETag ? { etag: head.ETag } : {}),
          },
        };
      } catch (error) {
        // The setup guide grants no s3:ListBucket (least privilege), and without it S3 answers a
        // HEAD of a missing key with 403, not 404: both mean "not there" for redelivery, which
        // then uploads again under the same key. Wrong credentials fail earlier, at AssumeRole.
        if (
          error instanceof DestinationError &&
          error.stage === "storage" &&
          (error.cloudCode === "NotFound" ||
            error.cloudCode === "NoSuchKey" ||
            error.cloudCode === "AccessDenied")
        ) {
          return { exists: false };
        }
        throw error;
      }
    },

    async putSmallObject(key, bytes, signal) {
      await send(
        () =>
          client.send(
            new PutObjectCommand({
              Bucket: bucket,
              Key: key,
              Body: bytes,
              ContentLength: bytes.length,
              ChecksumCRC32: crc32Base64(bytes),
            }),
            { abortSignal: signal },
          ),
        `could not write s3://${bucket}/${key}`,
      );
    },

    async deleteObject(key, signal) {
      await send(
        () =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), {
            abortSignal: signal,
          }),
        `could not delete s3://${bucket}/${key}`,
      );
    },

    async abortLeftover(handle, signal) {
      if (handle.provider !== "s3") throw new Error(`not an S3 upload: ${handle.provider}`);
      return await abortMultipart(handle.key, (handle as S3UploadHandle).uploadId, signal);
    },
  };

  async function abortMultipart(
    key: string,
    uploadId: string,
    signal: AbortSignal,
  ): Promise<LeftoverOutcome> {
    try {
      await send(
        () =>
          client.send(
            new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }),
            { abortSignal: signal },
          ),
        `could not delete the unfinished upload of s3://${bucket}/${key} at AbortMultipartUpload`,
      );
      return "aborted";
    } catch (error) {
      if (error instanceof DestinationError && error.cloudCode === "NoSuchUpload") {
        return "already_gone";
      }
      throw error;
    }
  }

  async function openS3Upload(key: string, options: OpenUploadOptions): Promise<Upload> {
    const plan = s3PartSizes(options.expectedSizeBytes);
    const firstPartBytes = plan(1);
    // The multipart upload is created only once the bytes outgrow one part: an object that ends
    // within its first part is sent with one PutObject (the common small recording), which saves
    // CreateMultipartUpload and CompleteMultipartUpload and leaves nothing to abort.
    let handle: S3UploadHandle | undefined;
    let creating: Promise<S3UploadHandle> | undefined;
    const createMultipart = (signal: AbortSignal): Promise<S3UploadHandle> => {
      creating ??= send(
        () =>
          client.send(
            new CreateMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              ContentType: options.contentType ?? "video/mp4",
              // FULL_OBJECT: S3 checks and keeps the whole object's CRC32 (not a CRC of part
              // CRCs), which a redelivery can recompute from the staged copy without the parts.
              ChecksumAlgorithm: "CRC32",
              ChecksumType: "FULL_OBJECT",
            }),
            { abortSignal: signal },
          ),
        `could not write s3://${bucket}/${key} at CreateMultipartUpload`,
      ).then(async (created) => {
        if (!created.UploadId) {
          throw new Error("S3 answered CreateMultipartUpload without an UploadId");
        }
        const started: S3UploadHandle = { provider: "s3", key, uploadId: created.UploadId };
        handle = started;
        // Recorded before any part is sent: a crash from here on leaves it for cleanup.
        await options.onHandle?.(started);
        return started;
      });
      return creating;
    };
    const parts: { PartNumber: number; ETag: string; ChecksumCRC32: string }[] = [];
    let sizeBytes = 0;
    let wholeCrc32 = 0;
    /** PutObject's answer when the object fit in one part. */
    let single: { ChecksumCRC32?: string; ETag?: string } | undefined;
    let completed: UploadResult | undefined;

    const writer = new PartWriter<string>({
      plan,
      pool: partPoolFor(settings.memoryBudgetBytes),
      inFlight: settings.partsInFlight,
      // In part order, as each part fills: its CRC32 and the whole object's.
      prepare: (part, partNumber) => {
        sizeBytes += part.length;
        const partCrc32 = crc32(part);
        // The first part's CRC32 is the object's so far: one pass over its bytes, not two.
        wholeCrc32 = partNumber === 1 ? partCrc32 : crc32(part, wholeCrc32);
        return uint32Base64(partCrc32);
      },
      send: async (part, partNumber, final, checksum, signal) => {
        if (final && partNumber === 1) {
          // The whole object in one part: one PutObject, its CRC32 checked by S3 and echoed.
          single = await send(
            () =>
              client.send(
                new PutObjectCommand({
                  Bucket: bucket,
                  Key: key,
                  Body: part,
                  ContentLength: part.length,
                  ContentType: options.contentType ?? "video/mp4",
                  ChecksumCRC32: checksum,
                }),
                { abortSignal: signal },
              ),
            `could not write s3://${bucket}/${key}`,
          );
          return;
        }
        // An upload needs at least one part; an empty tail after full parts adds nothing.
        if (final && part.length === 0) return;
        const { uploadId } = handle ?? (await createMultipart(signal));
        const answer = await send(
          () =>
            client.send(
              new UploadPartCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                PartNumber: partNumber,
                Body: part,
                ContentLength: part.length,
                ChecksumCRC32: checksum,
              }),
              { abortSignal: signal },
            ),
          `could not write part ${partNumber} of s3://${bucket}/${key}`,
        );
        if (answer.ChecksumCRC32 !== undefined && answer.ChecksumCRC32 !== checksum) {
          throw integrityError(
            "the object S3 stored",
            `part ${partNumber}: S3 stored CRC32 ${answer.ChecksumCRC32}, we sent ${checksum}`,
          );
        }
        if (!answer.ETag) throw new Error(`S3 answered UploadPart ${partNumber} without an ETag`);
        parts.push({ PartNumber: partNumber, ETag: answer.ETag, ChecksumCRC32: checksum });
      },
    });

    /** Checks the object's CRC32 as S3 reports it against the bytes sent, and keeps the result. */
    const confirm = (answer: { ChecksumCRC32?: string; ETag?: string }): UploadResult => {
      const expected = uint32Base64(wholeCrc32);
      if (answer.ChecksumCRC32 !== undefined && answer.ChecksumCRC32 !== expected) {
        throw integrityError(
          "the object S3 stored",
          `S3 reports CRC32 ${answer.ChecksumCRC32} for the object, the bytes sent give ${expected}`,
        );
      }
      completed = {
        key,
        sizeBytes,
        checksums: {
          crc32Base64: answer.ChecksumCRC32 ?? expected,
          ...(answer.ETag ? { etag: answer.ETag } : {}),
        },
      };
      return completed;
    };

    return {
      /** Set once the object outgrew one part and its multipart upload exists. */
      get handle() {
        return handle;
      },
      get bytesWritten() {
        return writer.bytesWritten;
      },
      async write(chunk, signal) {
        // This write fills the first part, so it is not the last one: the parts need an upload,
        // created (and so reported to the caller) before the first part is handed to a slot.
        if (!handle && writer.bytesWritten + chunk.length >= firstPartBytes) {
          await createMultipart(signal);
        }
        await writer.write(chunk, signal);
      },
      async complete(signal) {
        if (completed) return completed;
        await writer.finish(signal);
        if (single) return confirm(single);
        if (!handle) throw new Error("S3 upload completed with neither PutObject nor parts");
        const answer = await send(
          () =>
            client.send(
              new CompleteMultipartUploadCommand({
                Bucket: bucket,
                Key: key,
                UploadId: handle!.uploadId,
                // Parts in flight finish in any order; S3 wants them ascending.
                MultipartUpload: { Parts: parts.sort((a, b) => a.PartNumber - b.PartNumber) },
                ChecksumCRC32: uint32Base64(wholeCrc32),
                ChecksumType: "FULL_OBJECT",
              }),
              { abortSignal: signal },
            ),
          `could not commit s3://${bucket}/${key} at CompleteMultipartUpload`,
        );
        return confirm(answer);
      },
      async abort(signal) {
        await writer.close();
        if (completed) return;
        const created = handle ?? (await creating?.catch(() => undefined));
        if (created) await abortMultipart(key, created.uploadId, signal);
      },
    };
  }
}

/** Forced credential refreshes of one (cached, shared) client: the one running, and how many ran. */
interface RefreshState {
  generation: number;
  pending: Promise<void> | undefined;
}
const refreshStates = new WeakMap<S3Client, RefreshState>();

function refreshStateOf(client: S3Client): RefreshState {
  let state = refreshStates.get(client);
  if (!state) {
    state = { generation: 0, pending: undefined };
    refreshStates.set(client, state);
  }
  return state;
}

function identitySummary(hints: AwsHintContext): string {
  return `unable to assume role with given parameters: AssumeRole of ${hints.roleArn} failed`;
}

/** The STS failure inside an error from the credential provider, if it is one. */
function stsCause(error: unknown): { cause: unknown } | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    if (current instanceof StsExchangeError) return { cause: current.cause };
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
