/**
 * Pull-based reading of a request body with delimiter search, for streaming multipart parsing
 * without buffering the media part.
 */

/** Thrown when the body ends or grows before an expected delimiter. */
export class MalformedBodyError extends Error {
  override name = "MalformedBodyError";
}

/** Wraps an async iterable of chunks. */
export class ByteReader {
  #iterator: AsyncIterator<Uint8Array>;
  #buffer: Buffer = Buffer.alloc(0);
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#iterator = source[Symbol.asyncIterator]();
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.#ended = true;
      return false;
    }
    this.#buffer =
      this.#buffer.length === 0
        ? Buffer.from(next.value)
        : Buffer.concat([this.#buffer, next.value]);
    return true;
  }

  /** Returns the bytes before `delimiter` and consumes the delimiter; at most `limit` bytes. */
  async readUntil(delimiter: Buffer, limit: number): Promise<Buffer> {
    for (;;) {
      const index = this.#buffer.indexOf(delimiter);
      if (index >= 0) {
        const head = this.#buffer.subarray(0, index);
        this.#buffer = this.#buffer.subarray(index + delimiter.length);
        return head;
      }
      if (this.#buffer.length > limit + delimiter.length)
        throw new MalformedBodyError("multipart part too large");
      if (!(await this.#pull())) throw new MalformedBodyError("unexpected end of multipart body");
    }
  }

  /** Streams the bytes before `delimiter` to `sink` (holding back a possible partial match). */
  async streamUntil(delimiter: Buffer, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    for (;;) {
      const index = this.#buffer.indexOf(delimiter);
      if (index >= 0) {
        if (index > 0) await sink(this.#buffer.subarray(0, index));
        this.#buffer = this.#buffer.subarray(index + delimiter.length);
        return;
      }
      const safe = this.#buffer.length - (delimiter.length - 1);
      if (safe > 0) {
        await sink(this.#buffer.subarray(0, safe));
        this.#buffer = this.#buffer.subarray(safe);
      }
      if (!(await this.#pull())) throw new MalformedBodyError("unexpected end of multipart body");
    }
  }

  /** Reads exactly `count` bytes. */
  async read(count: number): Promise<Buffer> {
    while (this.#buffer.length < count) {
      if (!(await this.#pull())) throw new MalformedBodyError("unexpected end of multipart body");
    }
    const head = this.#buffer.subarray(0, count);
    this.#buffer = this.#buffer.subarray(count);
    return head;
  }

  /** Discards everything left. */
  async drain(): Promise<void> {
    this.#buffer = Buffer.alloc(0);
    while (await this.#pull()) this.#buffer = Buffer.alloc(0);
  }
}

/** Parses `Name: value` header lines of a multipart part (CRLF or bare LF line ends). */
export function parsePartHeaders(block: Buffer): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.toString("utf8").split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  return headers;
}
