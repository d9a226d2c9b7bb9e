/**
 * The S3 adapter: multipart uploads fed part by part (CRC32 per part, computed here and sent as
 * the part's checksum so S3 verifies our bytes), the whole object's CRC32 (FULL_OBJECT) sent and
 * checked at completion, and AbortMultipartUpload on failure.
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
    const created = await send(
      () =>
        client.send(
          new CreateMultipartUploadCommand({
            Bucket: bucket,
            Key: key,
            ContentType: options.contentType ?? "video/mp4",
            // FULL_OBJECT: S3 checks and keeps the whole object's CRC32 (not a CRC of part CRCs),
            // which a redelivery can recompute from the staged copy without knowing the parts.
            ChecksumAlgorithm: "CRC32",
            ChecksumType: "FULL_OBJECT",
          }),
          { abortSignal: options.signal },
        ),
      `could not write s3://${bucket}/${key} at CreateMultipartUpload`,
    );
    const uploadId = created.UploadId;
    if (!uploadId) throw new Error("S3 answered CreateMultipartUpload without an UploadId");
    const handle: S3UploadHandle = { provider: "s3", key, uploadId };
    const parts: { PartNumber: number; ETag: string; ChecksumCRC32: string }[] = [];
    let sizeBytes = 0;
    let wholeCrc32 = 0;
    let completed: UploadResult | undefined;

    const writer = new PartWriter<string>({
      plan: s3PartSizes(options.expectedSizeBytes),
      pool: partPoolFor(settings.memoryBudgetBytes),
      inFlight: settings.partsInFlight,
      // In part order, as each part fills: its CRC32 and the whole object's.
      prepare: (part) => {
        sizeBytes += part.length;
        wholeCrc32 = crc32(part, wholeCrc32);
        return crc32Base64(part);
      },
      send: async (part, partNumber, final, checksum, signal) => {
        // An upload needs at least one part; an empty tail after full parts adds nothing.
        if (final && part.length === 0 && partNumber > 1) return;
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

    return {
      handle,
      get bytesWritten() {
        return writer.bytesWritten;
      },
      write: (chunk, signal) => writer.write(chunk, signal),
      async complete(signal) {
        if (completed) return completed;
        await writer.finish(signal);
        const expected = uint32Base64(wholeCrc32);
        const answer = await send(
          () =>
            client.send(
              new CompleteMultipartUploadCommand({
                Bucket: bucket,
                Key: key,
                UploadId: uploadId,
                // Parts in flight finish in any order; S3 wants them ascending.
                MultipartUpload: { Parts: parts.sort((a, b) => a.PartNumber - b.PartNumber) },
                ChecksumCRC32: expected,
                ChecksumType: "FULL_OBJECT",
              }),
              { abortSignal: signal },
            ),
          `could not commit s3://${bucket}/${key} at CompleteMultipartUpload`,
        );
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
      },
      async abort(signal) {
        await writer.close();
        if (completed) return;
        await abortMultipart(key, uploadId, signal);
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
