import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { test } from "node:test";
import { CRC32C } from "@google-cloud/storage";
import { ContentHasher } from "./content-hasher.ts";

test("CRC-32C over odd-sized pieces agrees with @google-cloud/storage's validator", () => {
  const empty = new ContentHasher();
  assert.equal(empty.digest().crc32cBase64, "AAAAAA==");
  const check = new ContentHasher();
  check.update(Buffer.from("123456789"));
  assert.equal(Buffer.from(check.digest().crc32cBase64, "base64").toString("hex"), "e3069283");

  const data = randomFillSync(Buffer.alloc(1_000_003));
  const reference = new CRC32C();
  reference.update(data);
  const hasher = new ContentHasher();
  for (let offset = 0; offset < data.length; offset += 77_777)
    hasher.update(data.subarray(offset, offset + 77_777));
  const digests = hasher.digest();
  assert.equal(digests.crc32cBase64, reference.toString());
  assert.equal(digests.sizeBytes, data.length);
});
