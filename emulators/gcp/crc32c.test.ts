import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { test } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { crc32cToBase64, crc32cUpdate } from "./crc32c.ts";

test("CRC-32C check value and agreement with @google-cloud/storage's implementation", () => {
  assert.equal(crc32cUpdate(0, Buffer.from("123456789")), 0xe3069283);
  assert.equal(crc32cToBase64(crc32cUpdate(0, Buffer.alloc(0))), "AAAAAA==");
  const data = randomFillSync(Buffer.alloc(1_000_003));
  const reference = new CRC32C();
  reference.update(data);
  // Incremental updates over odd-sized pieces equal one pass.
  let crc = 0;
  for (let offset = 0; offset < data.length; offset += 77_777)
    crc = crc32cUpdate(crc, data.subarray(offset, offset + 77_777));
  assert.equal(crc32cToBase64(crc), reference.toString());
});
