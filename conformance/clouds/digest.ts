/** Size and SHA-256 of a stream of bytes (what a cloud's client downloads). */
import { createHash } from "node:crypto";

export async function digestOf(
  stream: AsyncIterable<Uint8Array | string>,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of stream) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.length;
    hash.update(bytes);
  }
  return { size, sha256: hash.digest("hex") };
}
