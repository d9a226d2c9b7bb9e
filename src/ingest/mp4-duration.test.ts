/** MP4 duration from hand-built box structures: both mvhd versions, moov at the end, 64-bit sizes, garbage. */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readMp4DurationSeconds } from "./mp4-duration.ts";

/** A box with a 32-bit size. */
function box(type: string, ...children: Buffer[]): Buffer {
  const payload = Buffer.concat(children);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + payload.byteLength, 0);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, payload]);
}

/** A box with size field 1 and a 64-bit `largesize`. */
function largeBox(type: string, ...children: Buffer[]): Buffer {
  const payload = Buffer.concat(children);
  const header = Buffer.alloc(16);
  header.writeUInt32BE(1, 0);
  header.write(type, 4, "latin1");
  header.writeBigUInt64BE(BigInt(16 + payload.byteLength), 8);
  return Buffer.concat([header, payload]);
}

function mvhd0(timescale: number, duration: number): Buffer {
  const body = Buffer.alloc(100);
  body.writeUInt8(0, 0);
  body.writeUInt32BE(timescale, 12);
  body.writeUInt32BE(duration, 16);
  return box("mvhd", body);
}

function mvhd1(timescale: number, duration: bigint): Buffer {
  const body = Buffer.alloc(112);
  body.writeUInt8(1, 0);
  body.writeUInt32BE(timescale, 20);
  body.writeBigUInt64BE(duration, 24);
  return box("mvhd", body);
}

const ftyp = box("ftyp", Buffer.from("isom\0\0\x02\0isomiso2mp41", "latin1"));

describe("readMp4DurationSeconds", () => {
  let dir: string;
  let n = 0;
  const file = async (bytes: Buffer) => {
    const path = join(dir, `f${n++}.mp4`);
    await writeFile(path, bytes);
    return path;
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "mp4-"));
  });
  after(async () => await rm(dir, { recursive: true, force: true }));

  it("reads a version 0 mvhd with moov before mdat", async () => {
    const path = await file(
      Buffer.concat([
        ftyp,
        box("moov", mvhd0(1000, 12_345), box("trak")),
        box("mdat", Buffer.alloc(64)),
      ]),
    );
    assert.equal(await readMp4DurationSeconds(path), 12.345);
  });

  it("reads a version 1 mvhd from a moov after a large mdat, skipping mdat by its header", async () => {
    // 8 MiB of media: the parser must seek past it, never read it.
    const mdat = box("mdat", Buffer.alloc(8 * 1024 * 1024, 0xab));
    const path = await file(
      Buffer.concat([ftyp, mdat, box("moov", box("udta"), mvhd1(90_000, 90_000n * 3_600n * 5n))]),
    );
    assert.equal(await readMp4DurationSeconds(path), 18_000);
  });

  it("follows 64-bit box sizes, and a last box of size 0 (to the end of the file)", async () => {
    const zeroSizedMdat = Buffer.concat([
      Buffer.from([0, 0, 0, 0]),
      Buffer.from("mdat"),
      Buffer.alloc(32),
    ]);
    const path = await file(
      Buffer.concat([
        ftyp,
        largeBox("free", Buffer.alloc(40)),
        largeBox("moov", mvhd0(600, 900)),
        zeroSizedMdat,
      ]),
    );
    assert.equal(await readMp4DurationSeconds(path), 1.5);
  });

  it("returns undefined for garbage, truncation, a missing mvhd, a zero timescale or an unknown duration", async () => {
    const cases: Buffer[] = [
      Buffer.from("this is not an mp4 file at all, just some text that goes on"),
      Buffer.alloc(0),
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x02, 0x03, 0xde, 0xad]),
      Buffer.concat([ftyp, box("mdat", Buffer.alloc(16))]),
      Buffer.concat([ftyp, box("moov", box("trak"))]),
      Buffer.concat([ftyp, box("moov", mvhd0(0, 100))]),
      Buffer.concat([ftyp, box("moov", mvhd0(1000, 0xffff_ffff))]),
      // moov claims more bytes than the file has.
      Buffer.concat([ftyp, box("moov", mvhd0(1000, 5000)).subarray(0, 40)]),
      // A box smaller than its own header.
      Buffer.concat([ftyp, Buffer.from([0, 0, 0, 4]), Buffer.from("moov")]),
      // An mvhd too short for its version.
      Buffer.concat([ftyp, box("moov", box("mvhd", Buffer.from([1, 0, 0, 0, 0, 0])))]),
    ];
    for (const [i, bytes] of cases.entries()) {
      assert.equal(await readMp4DurationSeconds(await file(bytes)), undefined, `case ${i}`);
    }
  });
});
