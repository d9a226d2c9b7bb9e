import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  piecesOf,
  readPlan,
  type Segment,
  segmentKey,
  segmentStart,
  stagedLength,
} from "./segments.ts";

const id = "0b7f7c3e-1111-4222-8333-944455556666";
const seg = (start: number, sizeBytes: number): Segment => ({
  key: segmentKey("p/", id, start),
  start,
  sizeBytes,
});

describe("S3 staging segments", () => {
  it("encodes the offset in a key that sorts like the offset, and decodes it back", () => {
    assert.equal(segmentKey("p/", id, 42), `p/${id}/0000000000000042`);
    assert.equal(segmentStart(`p/${id}/`, `p/${id}/0000000000000042`), 42);
    assert.equal(segmentStart(`p/${id}/`, `p/${id}/42`), undefined);
    assert.equal(segmentStart(`p/${id}/`, `p/${id}/000000000000004x`), undefined);
    assert.equal(segmentStart(`p/${id}/`, `q/${id}/0000000000000042`), undefined);
    assert.equal(segmentStart(`p/${id}/`, `p/${id}/9999999999999999`), undefined, "unsafe");
    const keys = [10, 9, 100_000, 0].map((n) => segmentKey("", id, n));
    assert.deepEqual(
      keys.toSorted().map((k) => segmentStart(`${id}/`, k)),
      [0, 9, 10, 100_000],
    );
  });

  it("cuts a segment where the next one starts (a later append discarded its tail)", () => {
    // 0..100 appended, then an append at 60 (the first one's 60..100 was never recorded).
    const pieces = piecesOf([seg(60, 10), seg(0, 100)]);
    assert.deepEqual(
      pieces.map((p) => [p.start, p.end]),
      [
        [0, 60],
        [60, 70],
      ],
    );
    assert.equal(stagedLength(pieces), 70);
    assert.deepEqual(
      readPlan(pieces, 50, 65).map((p) => [p.key.slice(-3), p.firstByte, p.endByte, p.whole]),
      [
        ["000", 50, 60, false],
        ["060", 0, 5, false],
      ],
    );
    assert.deepEqual(
      readPlan(pieces, 0, 70).map((p) => p.whole),
      [false, true],
    );
  });

  it("counts staged bytes only up to the first gap", () => {
    assert.equal(stagedLength(piecesOf([])), 0);
    assert.equal(stagedLength(piecesOf([seg(5, 10)])), 0);
    assert.equal(stagedLength(piecesOf([seg(0, 5), seg(6, 10)])), 5);
    assert.equal(stagedLength(piecesOf([seg(0, 5), seg(5, 0), seg(5, 3)])), 8);
  });
});
