/**
 * Recording ingest (docs/api.md, "Ingest"): start an instance, append bytes at an explicit offset, complete.
 * Every byte is staged durably before it is acknowledged, and every request can be retried
 * safely: a start with the same `epoch_ms` finds the same recording, an append at a stale
 * offset is refused with the current one, a repeated `complete` answers the same.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Db } from "../db/index.ts";
import type { LiveUploads } from "../delivery/live-uploads.ts";
import { enqueueDelivery, insertClaimedDelivery, notifyWorkers } from "../delivery/queue.ts";
import type { UploadHandle } from "../destinations/index.ts";
import { renderKey } from "../domain/index.ts";
import { AppError } from "../errors/index.ts";
import { keepLease } from "../lib/abort.ts";
import type { Clock } from "../lib/clock.ts";
import type { RecordingStorage } from "../providers/index.ts";
import { storageUri } from "../providers/index.ts";
import {
  commitAppend,
  declareUploadLength,
  discardReceiving,
  findRecording,
  findRecordingIdAt,
  insertRecording,
  markComplete,
  type Recording,
  releaseAppendLease,
  renewAppendLease,
  setLiveUploadHandle,
  takeAppendLease,
} from "../recordings/store.ts";
import { isStagingError, type StagingStore } from "../staging/index.ts";
import { mp4DurationSeconds } from "./mp4-duration.ts";
import { RunningHashes } from "./running-hashes.ts";

/** What ingest needs. */
export interface IngestDeps {
  db: Db;
  staging: StagingStore;
  clock: Clock;
  /** How long an append holds its recording without renewing (renewed while it streams). */
  appendLeaseMs: number;
  maxRecordingBytes: number;
  /** Streams parts to the destination while appending; absent: upload after `complete`. */
  liveUploads?: LiveUploads;
  /** Names this process when it claims the delivery of a live upload. */
  workerId: string;
  leaseMs: number;
  /** Wakes this process's worker, if it runs one (NOTIFY reaches the others). */
  wakeWorker?: () => void;
  /** Told of every committed append and its size in bytes (the process's metrics). */
  observeAppend?: (bytes: number) => void;
  /** Silence after which a receiving recording is purged as abandoned (its tus `Upload-Expires`). */
  abandonedAfterMs?: number;
  /** Aborts a live upload another process (or this one before a restart) left at the destination. */
  abortLeftover?: (recording: Recording, handle: UploadHandle) => Promise<void>;
}

/** A checksum of one append's bytes (tus `Upload-Checksum`). */
export interface AppendChecksum {
  algorithm: "sha1" | "sha256";
  digest: Buffer;
}

/** What an append may carry besides its bytes. */
export interface AppendOptions {
  signal?: AbortSignal;
  /** The append is kept only if its bytes hash to this (nothing is appended otherwise). */
  checksum?: AppendChecksum;
}

/** Checks `complete` may carry. */
export interface CompleteChecks {
  sizeBytes?: number;
  sha256?: string;
}

/** The recording ingest of one process. */
export class Ingest {
  readonly #deps: IngestDeps;
  readonly #hashes = new RunningHashes();

  constructor(deps: IngestDeps) {
    this.#deps = deps;
  }

  /**
   * Starts a recording of a conversation (any workspace: the operator calls this). `epochMs`
   * defaults to now, moved on by a millisecond while taken; an explicit one already taken
   * returns that recording (a retried start), with `created: false`.
   */
  async start(
    conversationId: string,
    requestedEpochMs?: number,
  ): Promise<{ recording: Recording; created: boolean }> {
    const { rows } = await this.#deps.db.query<{
      workspace_id: string;
      properties: { enable_recording?: boolean };
      recording_storage: (RecordingStorage & { key_template: string }) | null;
    }>("SELECT workspace_id, properties, recording_storage FROM conversations WHERE id = $1", [
      conversationId,
    ]);
    const conversation = rows[0];
    if (!conversation) throw new AppError("NOT_FOUND", `no conversation ${conversationId}`);
    if (conversation.properties.enable_recording !== true) {
      throw new AppError(
        "RECORDING_NOT_ENABLED",
        `conversation ${conversationId} was created without enable_recording: true`,
      );
    }
    const storage = conversation.recording_storage;
    if (!storage) {
      throw new AppError(
        "RECORDING_NOT_ENABLED",
        `conversation ${conversationId} has no recording destination`,
      );
    }
    let epochMs = requestedEpochMs ?? this.#deps.clock.now();
    // Two starts in the same millisecond get consecutive epochs; the bound is only a backstop.
    for (let tries = 0; tries < 1_000; tries++, epochMs++) {
      const key = renderKey(storage.key_template, { conversationId, epochMs });
      const id = await insertRecording(this.#deps.db, {
        conversationId,
        workspaceId: conversation.workspace_id,
        epochMs,
        key,
        storageUri: storageUri(storage, key),
        storage,
      });
      if (id) return { recording: await this.#mustFind(id), created: true };
      if (requestedEpochMs !== undefined) {
        const existing = await findRecordingIdAt(this.#deps.db, conversationId, epochMs);
        return { recording: await this.#mustFind(existing!), created: false };
      }
    }
    throw new AppError("RECORDING_STATE_CONFLICT", "could not find a free epoch_ms; retry");
  }

  /**
   * Appends `body` at `offset`, durable before it resolves with the new offset. Refuses a stale
   * offset, a concurrent append and a finished recording, changing nothing.
   */
  async append(
    id: string,
    offset: number,
    body: AsyncIterable<Uint8Array>,
    options: AppendOptions = {},
  ): Promise<number> {
    const deps = this.#deps;
    const { signal, checksum } = options;
    const recording = await this.#mustFind(id);
    this.#checkAppendable(recording, offset);
    const token = await takeAppendLease(deps.db, id, offset, {
      nowMs: deps.clock.now(),
      leaseMs: deps.appendLeaseMs,
    });
    if (!token) {
      const now = await this.#mustFind(id);
      this.#checkAppendable(now, offset);
      throw new AppError(
        "RECORDING_BUSY",
        `another append to recording ${id} is in progress; retry after it ends`,
        { details: { upload_offset: now.bytesReceived } },
      );
    }
    const lease = keepLease({
      leaseMs: deps.appendLeaseMs,
      renew: () =>
        renewAppendLease(deps.db, id, token, {
          nowMs: deps.clock.now(),
          leaseMs: deps.appendLeaseMs,
        }),
      lostMessage: "the append lease was lost",
    });
    let committed = false;
    try {
      const hash = this.#hashes.continueAt(id, offset);
      const check = checksum ? createHash(checksum.algorithm) : undefined;
      const hashed = async function* () {
        for await (const chunk of body) {
          hash?.update(chunk);
          check?.update(chunk);
          yield chunk;
        }
      };
      const limit = recording.uploadLength ?? deps.maxRecordingBytes;
      let bytesWritten: number;
      try {
        ({ bytesWritten } = await deps.staging.append(id, offset, hashed(), {
          signal: signal ? AbortSignal.any([signal, lease.signal]) : lease.signal,
          maxBytes: limit - offset,
        }));
      } catch (error) {
        if (isStagingError(error, "STAGING_LIMIT_EXCEEDED")) {
          throw new AppError(
            "PAYLOAD_TOO_LARGE",
            recording.uploadLength !== null
              ? `recording ${id} would exceed its declared Upload-Length of ${recording.uploadLength} bytes; this append was not kept`
              : `recording ${id} would exceed ${deps.maxRecordingBytes} bytes (RELAY_MAX_RECORDING_BYTES); this append was not kept`,
            { details: { upload_offset: offset } },
          );
        }
        if (lease.signal.aborted) {
          throw new AppError(
            "RECORDING_BUSY",
            `the append to recording ${id} lost its turn (its lease lapsed); retry from the current offset`,
            { details: { upload_offset: offset }, cause: error },
          );
        }
        if (signal?.aborted || isBodyCutShort(error)) {
          throw new AppError(
            "UPLOAD_INCOMPLETE",
            `the body of the append to recording ${id} ended early (the connection closed); none of it was kept: resend from ${offset}`,
            { details: { upload_offset: offset }, cause: error },
          );
        }
        if (isStagingError(error)) {
          throw new AppError(
            "NOT_READY",
            `staging did not take the append to recording ${id}; nothing of it was kept: retry from ${offset}`,
            { details: { upload_offset: offset }, cause: error },
          );
        }
        throw error;
      }
      if (check && checksum) {
        const actual = check.digest();
        if (actual.length !== checksum.digest.length || !timingSafeEqual(actual, checksum.digest)) {
          throw new AppError(
            "UPLOAD_CHECKSUM_MISMATCH",
            `the ${bytesWritten} bytes of this append to recording ${id} do not match its Upload-Checksum (${checksum.algorithm}); none of them were kept: resend from ${offset}`,
            { details: { upload_offset: offset } },
          );
        }
      }
      const newOffset = offset + bytesWritten;
      committed = await commitAppend(deps.db, id, token, newOffset, deps.clock.now());
      if (!committed) {
        throw new AppError(
          "RECORDING_BUSY",
          `the append to recording ${id} took too long and lost its turn; retry from the current offset`,
          { details: { upload_offset: (await this.#mustFind(id)).bytesReceived } },
        );
      }
      this.#hashes.commit(id, newOffset, hash);
      deps.observeAppend?.(bytesWritten);
      // An empty append (a producer's probe) starts no live upload.
      if (newOffset > offset) deps.liveUploads?.appended(recording, offset, newOffset);
      return newOffset;
    } finally {
      lease.stop();
      if (!committed) await releaseAppendLease(deps.db, id, token).catch(() => {});
    }
  }

  /**
   * Completes a recording: checks what the producer says it sent, fixes its SHA-256 and
   * duration, and queues its delivery (or finishes the live upload). Idempotent: completing a
   * completed recording with the same (or no) checks answers the same.
   */
  async complete(id: string, checks: CompleteChecks): Promise<Recording> {
    const deps = this.#deps;
    const recording = await this.#mustFind(id);
    if (recording.state !== "receiving") {
      this.#checkContent(recording, checks, recording.sha256 ?? "");
      if (recording.state === "purged") {
        throw new AppError("RECORDING_PURGED", `recording ${id} was purged`);
      }
      return recording;
    }
    if (
      recording.appendLeaseExpiresAt !== null &&
      recording.appendLeaseExpiresAt.getTime() > deps.clock.now()
    ) {
      throw new AppError(
        "RECORDING_BUSY",
        `an append to recording ${id} is in progress; complete it after the append ends`,
        { details: { upload_offset: recording.bytesReceived } },
      );
    }
    const size = recording.bytesReceived;
    const sha256 = this.#hashes.take(id, size) ?? (await this.#stagedSha256(id, size));
    this.#checkContent(recording, checks, sha256);
    if (recording.uploadLength !== null && recording.uploadLength !== size) {
      throw new AppError(
        "RECORDING_CONTENT_MISMATCH",
        `recording ${id} declared an Upload-Length of ${recording.uploadLength} bytes but has received ${size}`,
        { details: { upload_offset: size } },
      );
    }
    if (size === 0) throw emptyRecording(`recording ${id} received no bytes`, { upload_offset: 0 });
    const durationSeconds = await mp4DurationSeconds({
      size,
      readAt: (position, length) => this.#readRange(id, position, position + length),
    }).catch(() => undefined);
    const live = deps.liveUploads;
    const streaming = live?.isStreaming(id, size) ?? false;
    const nowMs = deps.clock.now();
    const claimed = await deps.db.transaction(async (tx) => {
      const done = await markComplete(tx, id, { sizeBytes: size, sha256, durationSeconds, nowMs });
      if (!done) return "changed" as const;
      if (streaming && live) {
        await setLiveUploadHandle(tx, id, null);
        return await insertClaimedDelivery(tx, {
          recordingId: id,
          workspaceId: recording.workspaceId,
          workerId: deps.workerId,
          nowMs,
          leaseMs: deps.leaseMs,
          uploadHandle: live.handleOf(id),
          destination: recording.storage,
        });
      }
      await enqueueDelivery(tx, {
        recordingId: id,
        workspaceId: recording.workspaceId,
        destination: recording.storage,
        nowMs,
      });
      await notifyWorkers(tx);
      return undefined;
    });
    if (claimed === "changed") {
      // An append slipped in between: the caller retries against the new state.
      live?.forget(id);
      const now = await this.#mustFind(id);
      if (now.state !== "receiving") return now;
      throw new AppError("RECORDING_BUSY", `recording ${id} changed while completing; retry`, {
        details: { upload_offset: now.bytesReceived },
      });
    }
    const completed = await this.#mustFind(id);
    if (claimed && live) live.finish(completed, claimed);
    else {
      live?.forget(id);
      deps.wakeWorker?.();
    }
    return completed;
  }

  /**
   * A whole recording in one request (start, append, complete), all or nothing: a body that is
   * empty, refused (too large, staging down) or cut short leaves no recording and nothing staged,
   * so a retry starts clean. The recording is visible (`receiving`) while its bytes arrive, as
   * with any start; the failure path deletes it with its staged bytes.
   */
  async uploadWhole(
    conversationId: string,
    body: AsyncIterable<Uint8Array>,
    signal?: AbortSignal,
  ): Promise<Recording> {
    const { recording } = await this.start(conversationId);
    const id = recording.id;
    let completed = false;
    try {
      const size = await this.append(id, 0, body, signal ? { signal } : {});
      if (size === 0) {
        throw emptyRecording(
          `the body is empty: a one-shot upload is the whole recording (no recording was created for conversation ${conversationId})`,
        );
      }
      const done = await this.complete(id, {});
      completed = true;
      return done;
    } finally {
      if (!completed) await this.#discard(id);
    }
  }

  /** The largest recording this relay takes (`RELAY_MAX_RECORDING_BYTES`). */
  get maxRecordingBytes(): number {
    return this.#deps.maxRecordingBytes;
  }

  /** A recording by id (operator view), or NOT_FOUND. */
  async find(id: string): Promise<Recording> {
    return await this.#mustFind(id);
  }

  /**
   * When a receiving recording is purged as abandoned unless an append arrives first (the
   * retention purge's rule); undefined once it is no longer receiving.
   */
  expiresAt(recording: Recording): Date | undefined {
    const after = this.#deps.abandonedAfterMs;
    if (recording.state !== "receiving" || after === undefined) return undefined;
    return new Date(recording.lastActivityAt.getTime() + after);
  }

  /**
   * Declares the recording's total length (tus `Upload-Length`, at creation or, deferred, on a
   * later append). It is fixed once declared; the append that reaches it completes the recording.
   */
  async declareLength(id: string, length: number): Promise<Recording> {
    const recording = await this.#mustFind(id);
    if (recording.uploadLength === length) return recording;
    if (length === 0) {
      throw emptyRecording(`Upload-Length is 0 for recording ${id}`, {
        upload_offset: recording.bytesReceived,
      });
    }
    if (length > this.#deps.maxRecordingBytes) {
      throw new AppError(
        "PAYLOAD_TOO_LARGE",
        `Upload-Length ${length} is over the ${this.#deps.maxRecordingBytes} bytes this relay takes (RELAY_MAX_RECORDING_BYTES)`,
        { details: { upload_offset: recording.bytesReceived } },
      );
    }
    if (length < recording.bytesReceived) {
      throw new AppError(
        "VALIDATION_FAILED",
        `Upload-Length ${length} is less than the ${recording.bytesReceived} bytes recording ${id} has already received`,
        { field: "Upload-Length", details: { upload_offset: recording.bytesReceived } },
      );
    }
    if (!(await declareUploadLength(this.#deps.db, id, length))) {
      const now = await this.#mustFind(id);
      throw new AppError(
        "RECORDING_STATE_CONFLICT",
        now.state !== "receiving"
          ? `recording ${id} is ${now.state}: its length can no longer be declared`
          : `recording ${id} already declared an Upload-Length of ${now.uploadLength}; it cannot change`,
        { details: { upload_offset: now.bytesReceived } },
      );
    }
    return await this.#mustFind(id);
  }

  /**
   * Completes a receiving recording whose bytes reached its declared length, exactly as
   * `complete` would; answers the recording as it now is.
   */
  async settle(id: string): Promise<Recording> {
    const recording = await this.#mustFind(id);
    if (
      recording.state === "receiving" &&
      recording.uploadLength !== null &&
      recording.bytesReceived === recording.uploadLength
    ) {
      return await this.complete(id, { sizeBytes: recording.uploadLength });
    }
    return recording;
  }

  /**
   * Aborts a recording that is still arriving (tus termination): its live upload is aborted,
   * its staged bytes and the recording itself deleted. A completed one is refused (its delivery
   * is under way or done).
   */
  async terminate(id: string): Promise<void> {
    const deps = this.#deps;
    const recording = await this.#mustFind(id);
    if (recording.state !== "receiving") {
      throw new AppError(
        recording.state === "purged" ? "RECORDING_PURGED" : "RECORDING_STATE_CONFLICT",
        `recording ${id} is ${recording.state}: only a recording still receiving can be terminated`,
      );
    }
    if (
      recording.appendLeaseExpiresAt !== null &&
      recording.appendLeaseExpiresAt.getTime() > deps.clock.now()
    ) {
      throw new AppError(
        "RECORDING_BUSY",
        `an append to recording ${id} is in progress; terminate it after the append ends`,
        { details: { upload_offset: recording.bytesReceived } },
      );
    }
    // This process's own live upload is aborted by `forget`; one left by another process (or
    // before a restart) is known only by its recorded handle.
    const streamedHere = deps.liveUploads?.isStreaming(id, recording.bytesReceived) ?? false;
    if (!(await this.#discard(id))) {
      throw new AppError(
        "RECORDING_STATE_CONFLICT",
        `recording ${id} completed while being terminated; its delivery goes ahead`,
      );
    }
    const handle = recording.liveUploadHandle;
    if (handle && !streamedHere && deps.abortLeftover) {
      await deps.abortLeftover(recording, handle).catch(() => {});
    }
  }

  /**
   * Deletes a recording that never completed, and its staged bytes. Only a recording still
   * `receiving` is deleted; one that completed meanwhile (its delivery queued) is left alone.
   */
  async #discard(id: string): Promise<boolean> {
    const deps = this.#deps;
    deps.liveUploads?.forget(id);
    this.#hashes.forget(id);
    if (!(await discardReceiving(deps.db, id))) return false;
    // Best effort: staged bytes without a recording are orphans the retention sweep removes.
    await deps.staging.delete(id, AbortSignal.timeout(60_000)).catch(() => {});
    return true;
  }

  async #mustFind(id: string): Promise<Recording> {
    const recording = await findRecording(this.#deps.db, id);
    if (!recording) throw new AppError("NOT_FOUND", `no recording ${id}`);
    return recording;
  }

  #checkAppendable(recording: Recording, offset: number): void {
    if (recording.state !== "receiving") {
      throw new AppError(
        "RECORDING_STATE_CONFLICT",
        `recording ${recording.id} is ${recording.state}: appends are taken only before complete`,
        { details: { upload_offset: recording.bytesReceived } },
      );
    }
    if (offset !== recording.bytesReceived) {
      throw new AppError(
        "UPLOAD_OFFSET_MISMATCH",
        `Upload-Offset is ${offset} but recording ${recording.id} has received ${recording.bytesReceived} bytes: resend from ${recording.bytesReceived}`,
        { details: { upload_offset: recording.bytesReceived } },
      );
    }
  }

  #checkContent(recording: Recording, checks: CompleteChecks, sha256: string): void {
    if (checks.sizeBytes !== undefined && checks.sizeBytes !== recording.bytesReceived) {
      throw new AppError(
        recording.state === "receiving" ? "RECORDING_CONTENT_MISMATCH" : "RECORDING_STATE_CONFLICT",
        `size_bytes is ${checks.sizeBytes} but recording ${recording.id} has ${recording.bytesReceived} bytes`,
        { field: "size_bytes", details: { upload_offset: recording.bytesReceived } },
      );
    }
    if (checks.sha256 !== undefined && checks.sha256.toLowerCase() !== sha256) {
      throw new AppError(
        recording.state === "receiving" ? "RECORDING_CONTENT_MISMATCH" : "RECORDING_STATE_CONFLICT",
        `sha256 is ${checks.sha256.toLowerCase()} but the ${recording.bytesReceived} bytes received hash to ${sha256}`,
        { field: "sha256" },
      );
    }
  }

  async #stagedSha256(id: string, size: number): Promise<string> {
    const hash = createHash("sha256");
    if (size > 0)
      for await (const chunk of this.#deps.staging.read(id, { end: size })) hash.update(chunk);
    return hash.digest("hex");
  }

  async #readRange(id: string, start: number, end: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    if (end > start)
      for await (const chunk of this.#deps.staging.read(id, { start, end })) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
}

/** A recording without bytes: never a valid MP4, so never completed or delivered. */
function emptyRecording(message: string, details?: { upload_offset: number }): AppError {
  return new AppError(
    "RECORDING_EMPTY",
    `${message}; an empty recording has no bytes to deliver: append the recording's bytes first`,
    details ? { details } : {},
  );
}

/** Node's errors for a request body whose connection closed before its end. */
function isBodyCutShort(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  return code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE" || message === "aborted";
}
