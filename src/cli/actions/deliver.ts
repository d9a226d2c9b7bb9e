/**
 * `recording-relay deliver <file> --conversation <id>` (docs/feeding.md): uploads a recording
 * file through the relay's own API, as a tus 1.0.0 upload (tus-js-client), and resumes it: after
 * a dropped connection or a relay restart it asks the relay the offset (`HEAD`) and continues
 * from there. `--wait` then follows the recording (typed client) until it is delivered or failed.
 *
 * Exit codes: 0 delivered (with `--wait`) or accepted; 1 the relay refused the upload or the
 * delivery failed; 2 usage (flags, file, no relay to call); 3 the relay stayed unreachable.
 */
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Presets, SingleBar } from "cli-progress";
import { type DetailedError, type HttpRequest, type HttpResponse, Upload } from "tus-js-client";
import { createRelayClient, type Recording } from "../../client/index.ts";
import { isUuid } from "../../domain/ids.ts";
import { type ErrorCode, errorCodes, isAppError } from "../../errors/index.ts";
import { CliExit, type CliIo, deliverExit } from "../io.ts";
import { configFrom } from "../options.ts";
import { remoteRelay } from "../remote.ts";

const MiB = 1024 * 1024;

/** Relay refusals worth retrying: another append still holds the recording, or a stale offset. */
const retriedCodes = new Set(["RECORDING_BUSY", "UPLOAD_OFFSET_MISMATCH", "NOT_READY"]);

function humanBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < MiB) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 * MiB) return `${(bytes / MiB).toFixed(1)} MiB`;
  return `${(bytes / 1024 / MiB).toFixed(2)} GiB`;
}

function humanSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.ceil(seconds)}s`;
  return `${Math.floor(seconds / 60)}m${String(Math.ceil(seconds % 60)).padStart(2, "0")}s`;
}

/** The relay's error code in a tus-js-client failure, if it answered one. */
function codeOf(response: HttpResponse | null | undefined): string | undefined {
  try {
    const body = JSON.parse(response?.getBody() ?? "") as { error?: { code?: string } };
    return body.error?.code;
  } catch {
    return undefined;
  }
}

/** Progress: a bar (bytes, rate, ETA) on a terminal, otherwise a plain line every interval. */
function progressReporter(io: CliIo, total: number, intervalMs: number) {
  const startedAt = Date.now();
  let first = 0;
  let last = 0;
  let lastLineAt = 0;
  const rate = () => (last - first) / Math.max((Date.now() - startedAt) / 1000, 0.001);
  const terminal = io.terminal;
  const bar = terminal
    ? new SingleBar(
        {
          stream: terminal,
          format: "{bar} {percentage}% | {done} of {size} | {rate}/s | ETA {etaText}",
          hideCursor: true,
          barsize: 30,
        },
        Presets.shades_classic,
      )
    : undefined;
  const payload = () => ({
    done: humanBytes(last),
    size: humanBytes(total),
    rate: humanBytes(Math.round(rate())),
    etaText: last > first ? humanSeconds((total - last) / rate()) : "?",
  });
  bar?.start(total, 0, payload());
  return {
    /** The offset the relay had when this run started (a resumed upload). */
    resumedAt(offset: number) {
      first = offset;
      last = offset;
    },
    update(sent: number) {
      last = sent;
      if (bar) {
        bar.update(sent, payload());
        return;
      }
      const now = Date.now();
      if (now - lastLineAt < intervalMs) return;
      lastLineAt = now;
      const p = payload();
      io.stderr(
        `deliver: ${p.done} of ${p.size} (${Math.floor((sent / Math.max(total, 1)) * 100)}%), ${p.rate}/s, ETA ${p.etaText}`,
      );
    },
    note(line: string) {
      if (bar) terminal?.write("\n");
      io.stderr(line);
    },
    stop() {
      if (bar) {
        bar.update(last, payload());
        bar.stop();
      } else {
        const p = payload();
        io.stderr(`deliver: ${p.done} of ${p.size} sent`);
      }
    },
  };
}

/** Uploads `file` (its command, commands/deliver.ts, parses the flags and loads this). */
export async function runDeliver(
  io: CliIo,
  file: string,
  options: Record<string, unknown>,
): Promise<void> {
  const conversationId = String(options.conversation);
  if (!isUuid(conversationId)) {
    throw new CliExit(deliverExit.usage, "--conversation must be a conversation id (a UUID)");
  }
  const positive = (name: string, value: unknown, integer = false) => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
      throw new CliExit(deliverExit.usage, `--${name} must be a positive number`);
    }
    return n;
  };
  const epochMs =
    options.epochMs === undefined ? Date.now() : positive("epoch-ms", options.epochMs, true);
  const waitTimeoutMs = positive("wait-timeout", options.waitTimeout) * 1000;
  const chunkSize = Math.round(positive("chunk-mib", options.chunkMib) * MiB);
  const retryMs = positive("retry-seconds", options.retrySeconds) * 1000;
  const intervalMs = positive("progress-interval", options.progressInterval) * 1000;
  const size = await stat(file).then(
    (s) => (s.isFile() ? s.size : -1),
    () => -1,
  );
  if (size < 0) throw new CliExit(deliverExit.usage, `${file}: no such file`);
  if (size === 0) throw new CliExit(deliverExit.usage, `${file} is empty: nothing to deliver`);
  let remote: ReturnType<typeof remoteRelay>;
  try {
    remote = remoteRelay(configFrom(io.env, options));
  } catch (error) {
    if (isAppError(error)) throw new CliExit(deliverExit.usage, error.message);
    throw error;
  }
  if (!remote) {
    throw new CliExit(
      deliverExit.usage,
      "deliver uploads through a running relay: give its URL with --url or RELAY_URL",
    );
  }
  const { url, token } = remote;

  // Retry every second or so for --retry-seconds; tus-js-client resets the count on progress.
  const retryDelays = [0, 500, 1000, 2000];
  for (let total = 3500; total < retryMs; total += 2000) retryDelays.push(2000);
  const progress = progressReporter(io, size, intervalMs);
  let lastError = "";
  const uploadUrl = await new Promise<string>((resolve, reject) => {
    const upload: Upload = new Upload(createReadStream(file), {
      endpoint: `${url}/v2/tus`,
      headers: { authorization: `Bearer ${token}` },
      metadata: {
        conversation_id: conversationId,
        epoch_ms: String(epochMs),
        filename: file.split("/").at(-1) ?? "recording.mp4",
      },
      uploadSize: size,
      chunkSize,
      retryDelays,
      onShouldRetry: (error: DetailedError) => {
        const response = error.originalResponse;
        if (!response) {
          lastError = error.causingError?.message ?? error.message;
          return true;
        }
        const status = response.getStatus();
        const code = codeOf(response);
        lastError = `${status} ${code ?? ""}`.trim();
        return status >= 500 || status === 423 || (code !== undefined && retriedCodes.has(code));
      },
      onBeforeRequest: (request: HttpRequest) => {
        // A resumed upload asks the offset first: say so once, the bar continues from it.
        if (request.getMethod() === "HEAD" && lastError) {
          progress.note(`deliver: ${lastError}; asking the relay where to resume`);
          lastError = "";
        }
      },
      onAfterResponse: (request: HttpRequest, response: HttpResponse) => {
        if (request.getMethod() === "HEAD") {
          progress.resumedAt(Number(response.getHeader("Upload-Offset")) || 0);
        }
      },
      onProgress: (sent) => progress.update(sent),
      onSuccess: () => resolve(upload.url ?? ""),
      onError: (error) => reject(error),
    });
    upload.start();
  }).catch((error: DetailedError) => {
    progress.stop();
    const response = error.originalResponse;
    if (!response) {
      throw new CliExit(
        deliverExit.connection,
        `could not reach the relay at ${url}: ${error.causingError?.message ?? error.message}`,
      );
    }
    let detail = response.getBody();
    try {
      detail = (JSON.parse(detail) as { error: { code: string; message: string } }).error.message;
    } catch {}
    throw new CliExit(
      deliverExit.failed,
      `the relay refused the upload (${response.getStatus()} ${codeOf(response) ?? ""}): ${detail}`,
    );
  });
  progress.stop();
  const recordingId = new URL(uploadUrl, url).pathname.split("/").at(-1)!;
  const client = createRelayClient({ baseUrl: url, operatorToken: token });
  const read = async (): Promise<Recording | undefined> => {
    try {
      const { data } = await client.GET("/v2/recordings/{recording_id}", {
        params: { path: { recording_id: recordingId } },
      });
      return data;
    } catch {
      return undefined;
    }
  };
  if (!options.wait) {
    const recording = await read();
    io.stdout(
      `accepted: recording ${recordingId} (${size} bytes) → ${recording?.storage_uri ?? `see GET /v2/recordings/${recordingId}`}`,
    );
    return;
  }
  io.stderr(`deliver: recording ${recordingId} uploaded; waiting for its delivery`);
  const deadline = Date.now() + waitTimeoutMs;
  let seen: Recording | undefined;
  for (;;) {
    const recording = await read();
    if (recording) seen = recording;
    if (recording?.state === "delivered") {
      io.stdout(recording.storage_uri);
      return;
    }
    if (recording?.state === "failed" || recording?.state === "purged") {
      const code = recording.delivery?.error_code ?? "RECORDING_PURGED";
      const hint =
        code in errorCodes ? errorCodes[code as ErrorCode] : "see docs/errors.md for this code";
      io.stdout(`failed: ${code}: ${recording.delivery?.error_message ?? recording.state}`);
      io.stdout(
        `hint: ${hint} (docs/errors.md, ${code}); after fixing it, POST /v2/recordings/${recordingId}/redeliver`,
      );
      throw new CliExit(deliverExit.failed, `recording ${recordingId} was not delivered`);
    }
    if (Date.now() > deadline) {
      throw new CliExit(
        deliverExit.connection,
        seen
          ? `recording ${recordingId} is still ${seen.state} after --wait-timeout`
          : `could not read recording ${recordingId} from the relay at ${url}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
