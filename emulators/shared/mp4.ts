/**
 * A minimal MP4 file: `ftyp`, `moov/mvhd` stating the duration, then `mdat` with the media
 * bytes — what the relay reads `duration` from. The demo and the tests send these as recordings.
 */

/** An ISO BMFF box: 32-bit size, type, payload. */
function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const header = Buffer.alloc(8);
  header.writeUInt32BE(8 + body.length, 0);
  header.write(type, 4, "latin1");
  return Buffer.concat([header, body]);
}

/** An MP4 whose header states `durationMs` and whose media data is `media`. */
export function mp4File(media: Buffer, durationMs: number): Buffer {
  const mvhd = Buffer.alloc(100);
  mvhd.writeUInt32BE(1000, 12); // timescale: milliseconds
  mvhd.writeUInt32BE(durationMs, 16);
  return Buffer.concat([
    box("ftyp", Buffer.from("isom\0\0\x02\0isomiso2mp41", "latin1")),
    box("moov", box("mvhd", mvhd)),
    box("mdat", media),
  ]);
}
