import { createHash, type Hash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { rm } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CHECKSUM_ALGORITHMS,
  type ChecksumAlgorithm,
  checksumHeaderName,
  createDigest,
  type Digest,
  isWellFormedChecksum,
  parseChecksumAlgorithm,
} from "./checksums.ts";
import { AwsChunkedDecoder } from "./chunked.ts";
import { AwsError, s3Errors } from "./errors.ts";
import { openBody, type PayloadMode, type S3Request } from "./http.ts";

/** The flexible checksum a request declared, and where its value comes from. */
export interface DeclaredChecksum {
  algorithm: ChecksumAlgorithm;
  /** Header value; undefined when it arrives as an aws-chunked trailer. */
  value?: string;
}

/** Checksums a request declared (flexible checksum and/or Content-MD5). */
export interface ChecksumDeclaration {
  flexible?: DeclaredChecksum;
  contentMd5?: Buffer;
}

/** Reads the checksum headers the way S3 validates them before reading the body. */
export function declaredChecksums(
  headers: ReadonlyMap<string, readonly string[]>,
  payload: PayloadMode,
): ChecksumDeclaration {
  const declaration: ChecksumDeclaration = {};
  const present = CHECKSUM_ALGORITHMS.filter((a) => headers.has(checksumHeaderName(a)));
  const trailerAlgorithms =
    payload.kind === "chunked"
      ? payload.trailers.flatMap((t) => {
          const a = parseChecksumAlgorithm(t.replace(/^x-amz-checksum-/, ""));
          return a && t.startsWith("x-amz-checksum-") ? [a] : [];
        })
      : [];
  if (present.length + trailerAlgorithms.length > 1) {
    throw s3Errors.invalidRequest(
      "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
    );
  }
  const sdkAlgorithmHeader = headers.get("x-amz-sdk-checksum-algorithm")?.[0];
  if (present.length === 1) {
    const algorithm = present[0]!;
    const value = headers.get(checksumHeaderName(algorithm))![0]!.trim();
    if (!isWellFormedChecksum(algorithm, value)) {
      throw s3Errors.invalidRequest(
        `Value for ${checksumHeaderName(algorithm)} header is invalid.`,
      );
    }
    declaration.flexible = { algorithm, value };
  } else if (trailerAlgorithms.length === 1) {
    declaration.flexible = { algorithm: trailerAlgorithms[0]! };
  } else if (sdkAlgorithmHeader !== undefined) {
    throw s3Errors.invalidRequest(
      "x-amz-sdk-checksum-algorithm specified, but no corresponding x-amz-checksum-* or x-amz-trailer headers were found.",
    );
  }
  if (sdkAlgorithmHeader !== undefined) {
    const declared = parseChecksumAlgorithm(sdkAlgorithmHeader);
    if (!declared) {
      throw s3Errors.invalidRequest("Value for x-amz-sdk-checksum-algorithm header is invalid.");
    }
    if (declaration.flexible && declaration.flexible.algorithm !== declared) {
      throw s3Errors.invalidRequest(
        `Value for x-amz-sdk-checksum-algorithm header is invalid: ${sdkAlgorithmHeader} does not match the checksum header.`,
      );
    }
  }
  const md5 = headers.get("content-md5")?.[0];
  if (md5 !== undefined) {
    const raw = Buffer.from(md5, "base64");
    if (raw.length !== 16 || !/^[A-Za-z0-9+/]+={0,2}$/.test(md5)) throw s3Errors.invalidDigest();
    declaration.contentMd5 = raw;
  }
  return declaration;
}

/** Digests of a received body. */
export interface ReceivedBody {
  size: number;
  md5: Buffer;
  /** Only for a signed payload, whose hash SigV4 makes the server check; S3 computes no SHA-256 otherwise. */
  sha256Hex?: string;
  /** Base64 value of the declared flexible checksum, as computed. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string };
}

/** Thrown when a fault injection reset the connection; nothing must be answered. */
export class ConnectionResetByFault extends Error {
  constructor() {
    super("connection reset by fault injection");
    this.name = "ConnectionResetByFault";
  }
}

/**
 * Receives the object bytes of PutObject or UploadPart: lets a `100-continue` client start, and
 * applies the connection reset fault injection planned for this request.
 */
export function receiveUpload(
  r: S3Request,
  file: string,
  declared: ChecksumDeclaration,
  maxBytes: number,
): Promise<ReceivedBody> {
  openBody(r.res, r.gate);
  return receiveBody({
    req: r.req,
    file,
    payload: r.payload,
    declared,
    maxBytes,
    ...(r.fault.resetAfterBytes === undefined ? {} : { resetAfterBytes: r.fault.resetAfterBytes }),
  });
}

/**
 * Streams a request body to `file` while computing MD5, SHA-256 and the declared checksum,
 * then checks every promise the client made (payload hash, decoded length, checksums).
 * The file is removed on any failure.
 */
export async function receiveBody(input: {
  req: IncomingMessage;
  file: string;
  payload: PayloadMode;
  declared: ChecksumDeclaration;
  maxBytes: number;
  resetAfterBytes?: number;
}): Promise<ReceivedBody> {
  const { req, payload, declared } = input;
  const hasher = new HashingCounter(
    input.maxBytes,
    declared.flexible?.algorithm,
    payload.kind === "signed",
  );
  const stages: Transform[] = [];
  if (input.resetAfterBytes !== undefined) stages.push(resetAfter(req, input.resetAfterBytes));
  const decoder =
    payload.kind === "chunked"
      ? new AwsChunkedDecoder({
          ...(payload.signer ? { signer: payload.signer } : {}),
          expectedTrailers: payload.trailers,
        })
      : undefined;
  if (decoder) stages.push(decoder);
  stages.push(hasher);
  // The request is piped rather than put in the pipeline: on a mid-body error the pipeline
  // would destroy it, and with it the socket the error answer must go out on.
  const first = stages[0]!;
  const onClose = () => {
    if (!req.complete) first.destroy(s3Errors.incompleteBody());
  };
  req.once("close", onClose);
  req.pipe(first);
  try {
    await pipeline([...stages, createWriteStream(input.file)]);
  } catch (error) {
    req.unpipe(first);
    await rm(input.file, { force: true });
    if (error instanceof AwsError || error instanceof ConnectionResetByFault) throw error;
    throw s3Errors.incompleteBody();
  } finally {
    req.off("close", onClose);
  }
  try {
    const received = await hasher.result();
    if (payload.kind === "signed" && received.sha256Hex !== payload.sha256Hex.toLowerCase()) {
      throw s3Errors.contentSha256Mismatch(payload.sha256Hex, received.sha256Hex ?? "");
    }
    if (payload.kind === "chunked" && received.size !== payload.decodedLength) {
      throw s3Errors.incompleteBody();
    }
    if (declared.contentMd5 && !declared.contentMd5.equals(received.md5)) {
      throw s3Errors.badDigestMd5();
    }
    if (declared.flexible && received.checksum) {
      const name = checksumHeaderName(declared.flexible.algorithm);
      const expected = declared.flexible.value ?? decoder?.trailers.get(name);
      if (expected === undefined) {
        throw s3Errors.invalidRequest(`The trailer ${name} declared in x-amz-trailer is missing.`);
      }
      if (!isWellFormedChecksum(declared.flexible.algorithm, expected)) {
        throw s3Errors.invalidRequest(`Value for ${name} trailing header is invalid.`);
      }
      if (expected !== received.checksum.value) {
        throw s3Errors.badDigestChecksum(declared.flexible.algorithm);
      }
    }
    return received;
  } catch (error) {
    await rm(input.file, { force: true });
    throw error;
  }
}

/** Counts bytes and feeds every digest in one pass, so each byte is touched once. */
class HashingCounter extends Transform {
  #md5: Hash = createHash("md5");
  #sha256: Hash | undefined;
  #digest: Digest | undefined;
  #algorithm: ChecksumAlgorithm | undefined;
  #size = 0;
  #maxBytes: number;

  constructor(maxBytes: number, algorithm: ChecksumAlgorithm | undefined, withSha256: boolean) {
    super();
    this.#sha256 = withSha256 ? createHash("sha256") : undefined;
    this.#maxBytes = maxBytes;
    this.#algorithm = algorithm;
    this.#digest = algorithm ? createDigest(algorithm) : undefined;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#size += chunk.length;
    if (this.#size > this.#maxBytes) {
      callback(s3Errors.entityTooLarge(this.#size, this.#maxBytes));
      return;
    }
    this.#md5.update(chunk);
    this.#sha256?.update(chunk);
    this.#digest?.update(chunk);
    callback(null, chunk);
  }

  async result(): Promise<ReceivedBody> {
    const result: ReceivedBody = {
      size: this.#size,
      md5: this.#md5.digest(),
    };
    if (this.#sha256) result.sha256Hex = this.#sha256.digest("hex");
    if (this.#digest && this.#algorithm) {
      result.checksum = {
        algorithm: this.#algorithm,
        value: (await this.#digest.digest()).toString("base64"),
      };
    }
    return result;
  }
}

/** Passes bytes through until `limit`, then destroys the socket (a mid-body connection reset). */
function resetAfter(req: IncomingMessage, limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      seen += chunk.length;
      if (seen >= limit) {
        const allowed = chunk.length - (seen - limit);
        if (allowed > 0) this.push(chunk.subarray(0, allowed));
        req.socket.destroy();
        callback(new ConnectionResetByFault());
        return;
      }
      callback(null, chunk);
    },
  });
}
