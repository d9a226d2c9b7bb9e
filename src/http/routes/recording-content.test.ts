import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseRange } from "./recording-content.ts";

describe("parseRange (RFC 9110 byte ranges of a download)", () => {
  it("reads the three forms of one range, clamped to the size", () => {
    assert.deepEqual(parseRange("bytes=0-9", 100), { kind: "range", start: 0, end: 10 });
    assert.deepEqual(parseRange("bytes=90-", 100), { kind: "range", start: 90, end: 100 });
    assert.deepEqual(parseRange("bytes=-10", 100), { kind: "range", start: 90, end: 100 });
    assert.deepEqual(parseRange("bytes=-500", 100), { kind: "range", start: 0, end: 100 });
    assert.deepEqual(parseRange("bytes=50-500", 100), { kind: "range", start: 50, end: 100 });
  });

  it("a range past the end cannot be satisfied", () => {
    assert.deepEqual(parseRange("bytes=100-", 100), { kind: "unsatisfiable" });
    assert.deepEqual(parseRange("bytes=-0", 100), { kind: "unsatisfiable" });
    assert.deepEqual(parseRange("bytes=0-", 0), { kind: "unsatisfiable" });
  });

  it("ignores what is not one well-formed byte range: the whole copy is sent", () => {
    for (const header of [undefined, "bytes=0-1,5-6", "items=0-1", "bytes=9-2", "bytes=-", "x"]) {
      assert.deepEqual(parseRange(header, 100), { kind: "whole" }, String(header));
    }
  });
});
