import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { AwsError, s3Errors } from "./errors.ts";
import { signaturesEqual } from "./sigv4.ts";

/** Verifies chunk and trailer signatures of `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]`. */
export interface ChunkSigner {
  /** Signature the first chunk chains from (the request's own signature). */
  seedSignature: string;
  /** Expected signature of a chunk, given the previous signature and the chunk's sha256 hex. */
  chunkSignature(previous: string, chunkSha256Hex: string): string;
  /** Expected signature of the trailer block, given the previous signature and its sha256 hex. */
  trailerSignature(previous: string, trailerSha256Hex: string): string;
}

/** Options of {@link AwsChunkedDecoder}. */
export interface AwsChunkedOptions {
  /** Present for signed variants; chunks without a valid `chunk-signature` are refused. */
  signer?: ChunkSigner;
  /** Header names announced in `x-amz-trailer`; other trailers are refused. */
  expectedTrailers: readonly string[];
}

const MAX_LINE_BYTES = 8 * 1024;
const CRLF = Buffer.from("\r\n");

type State = "header" | "data" | "data-crlf" | "trailers" | "done";

/**
 * Decodes an `aws-chunked` body (the framing S3 clients use for streaming uploads with
 * signatures or trailing checksums) into the raw object bytes; collects the trailers.
 */
export class AwsChunkedDecoder extends Transform {
  readonly trailers = new Map<string, string>();
  #options: AwsChunkedOptions;
  #state: State = "header";
  #pending: Buffer = Buffer.alloc(0);
  #remaining = 0;
  #chunkHash: Hash | undefined;
  #chunkSignature = "";
  #previousSignature: string;
  #trailerLines: string[] = [];
  #trailerSignature: string | undefined;

  constructor(options: AwsChunkedOptions) {
    super();
    this.#options = options;
    this.#previousSignature = options.signer?.seedSignature ?? "";
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    // A body that stops after the final zero-length chunk without trailers is still complete.
    if (this.#state === "done" || (this.#state === "trailers" && this.#pending.length === 0)) {
      try {
        if (this.#state === "trailers") this.#finishTrailers();
        callback();
      } catch (error) {
        callback(error as Error);
      }
      return;
    }
    callback(s3Errors.incompleteBody());
  }

  #consume(input: Buffer): void {
    let buffer = this.#pending.length > 0 ? Buffer.concat([this.#pending, input]) : input;
    this.#pending = Buffer.alloc(0);
    while (buffer.length > 0) {
      switch (this.#state) {
        case "header": {
          const line = takeLine(buffer);
          if (!line) {
            this.#keep(buffer);
            return;
          }
          buffer = line.rest;
          this.#startChunk(line.text);
          break;
        }
        case "data": {
          const n = Math.min(this.#remaining, buffer.length);
          const data = buffer.subarray(0, n);
          this.#chunkHash?.update(data);
          this.push(data);
          this.#remaining -= n;
          buffer = buffer.subarray(n);
          if (this.#remaining === 0) this.#state = "data-crlf";
          break;
        }
        case "data-crlf": {
          if (buffer.length < 2) {
            this.#keep(buffer);
            return;
          }
          if (!buffer.subarray(0, 2).equals(CRLF))
            throw malformed("chunk data not followed by CRLF");
          buffer = buffer.subarray(2);
          this.#endChunk();
          this.#state = "header";
          break;
        }
        case "trailers": {
          const line = takeLine(buffer);
          if (!line) {
            this.#keep(buffer);
            return;
          }
          buffer = line.rest;
          if (line.text === "") {
            this.#finishTrailers();
            this.#state = "done";
          } else {
            this.#addTrailer(line.text);
          }
          break;
        }
        case "done":
          // Extra bytes after the terminating blank line are ignored, as S3 does with padding.
          return;
      }
    }
  }

  #keep(buffer: Buffer): void {
    if (buffer.length > MAX_LINE_BYTES) throw malformed("chunk header line too long");
    this.#pending = Buffer.from(buffer);
  }

  #startChunk(line: string): void {
    const [sizeText, ...extensions] = line.split(";");
    if (!sizeText || !/^[0-9a-fA-F]+$/.test(sizeText)) throw malformed(`bad chunk size '${line}'`);
    const size = Number.parseInt(sizeText, 16);
    const signer = this.#options.signer;
    if (signer) {
      const signature = extensions
        .map((e) => e.split("="))
        .find(([name]) => name === "chunk-signature")?.[1];
      if (!signature) throw malformed("chunk without chunk-signature");
      this.#chunkSignature = signature;
      this.#chunkHash = createHash("sha256");
    }
    this.#remaining = size;
    if (size === 0) {
      this.#endChunk();
      this.#state = "trailers";
    } else {
      this.#state = "data";
    }
  }

  #endChunk(): void {
    const signer = this.#options.signer;
    if (!signer || !this.#chunkHash) return;
    const hash = this.#chunkHash.digest("hex");
    const expected = signer.chunkSignature(this.#previousSignature, hash);
    if (!signaturesEqual(expected, this.#chunkSignature)) {
      throw chunkSignatureMismatch();
    }
    this.#previousSignature = expected;
    this.#chunkHash = undefined;
  }

  #addTrailer(line: string): void {
    const colon = line.indexOf(":");
    if (colon <= 0) throw malformed(`bad trailer '${line}'`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === "x-amz-trailer-signature") {
      this.#trailerSignature = value;
      return;
    }
    if (!this.#options.expectedTrailers.includes(name)) {
      throw s3Errors.invalidRequest(`The trailer ${name} was not declared in x-amz-trailer.`);
    }
    this.trailers.set(name, value);
    this.#trailerLines.push(`${name}:${value}\n`);
  }

  #finishTrailers(): void {
    for (const name of this.#options.expectedTrailers) {
      if (!this.trailers.has(name)) {
        throw s3Errors.invalidRequest(`The trailer ${name} declared in x-amz-trailer is missing.`);
      }
    }
    const signer = this.#options.signer;
    if (!signer || this.#options.expectedTrailers.length === 0) return;
    if (!this.#trailerSignature) throw malformed("missing x-amz-trailer-signature");
    const hash = createHash("sha256").update(this.#trailerLines.join("")).digest("hex");
    const expected = signer.trailerSignature(this.#previousSignature, hash);
    if (!signaturesEqual(expected, this.#trailerSignature)) throw chunkSignatureMismatch();
  }
}

function takeLine(buffer: Buffer): { text: string; rest: Buffer } | undefined {
  const end = buffer.indexOf(CRLF);
  if (end < 0) return undefined;
  return { text: buffer.subarray(0, end).toString("latin1"), rest: buffer.subarray(end + 2) };
}

function malformed(detail: string): AwsError {
  return new AwsError(
    400,
    "IncompleteBody",
    `The request body is not valid aws-chunked encoding: ${detail}`,
  );
}

function chunkSignatureMismatch(): AwsError {
  return new AwsError(
    403,
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your key and signing method.",
  );
}
