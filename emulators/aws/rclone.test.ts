import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import type { AwsCredentialIdentity } from "@aws-sdk/types";
import { type AwsEmulator, startAwsEmulator } from "./index.ts";
import { assume, T, testConfig } from "./testing.ts";

const run = promisify(execFile);

/** rclone from Debian's `rclone` package; CI must have it, a laptop may skip. */
async function rcloneAvailable(): Promise<boolean> {
  try {
    await run("rclone", ["version"]);
    return true;
  } catch {
    return false;
  }
}

const available = await rcloneAvailable();
if (!available && process.env.CI) {
  throw new Error(
    "rclone is required in CI for the AWS emulator's independent-client test: apt-get install -y rclone",
  );
}
const skip = available
  ? false
  : "rclone not installed (apt-get install -y rclone); skipped outside CI";

describe("rclone (an independent S3 client) against the emulator", { skip }, () => {
  let emulator: AwsEmulator;
  let dir: string;
  let creds: AwsCredentialIdentity;
  before(async () => {
    emulator = await startAwsEmulator(testConfig());
    creds = await assume(emulator);
    dir = await mkdtemp(join(tmpdir(), "aws-emulator-rclone-"));
  });
  after(async () => {
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs rclone configured only through the environment (no config file, no ambient AWS_*). */
  const rclone = (args: string[], secret = creds.secretAccessKey) => {
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (value !== undefined && !name.startsWith("AWS_") && !name.startsWith("RCLONE_"))
        env[name] = value;
    }
    Object.assign(env, {
      RCLONE_CONFIG: "/dev/null",
      RCLONE_CONFIG_EMU_TYPE: "s3",
      // "Other" keeps rclone path-style; with "AWS" rclone 1.60 insists on virtual hosts.
      RCLONE_CONFIG_EMU_PROVIDER: "Other",
      RCLONE_CONFIG_EMU_ENV_AUTH: "false",
      RCLONE_CONFIG_EMU_ACCESS_KEY_ID: creds.accessKeyId,
      RCLONE_CONFIG_EMU_SECRET_ACCESS_KEY: secret,
      RCLONE_CONFIG_EMU_SESSION_TOKEN: creds.sessionToken ?? "",
      RCLONE_CONFIG_EMU_REGION: T.region,
      RCLONE_CONFIG_EMU_ENDPOINT: emulator.endpoint,
      RCLONE_CONFIG_EMU_FORCE_PATH_STYLE: "true",
      RCLONE_CONFIG_EMU_NO_CHECK_BUCKET: "true",
    });
    return run(
      "rclone",
      [
        ...args,
        "--s3-upload-cutoff",
        "5M",
        "--s3-chunk-size",
        "5M",
        "--retries",
        "1",
        "--low-level-retries",
        "1",
      ],
      { env, encoding: "utf8", timeout: 30_000 },
    );
  };

  it("puts a small file, multipart-uploads a 12 MiB file, lists and reads both back", async () => {
    const small = randomBytes(1000);
    const big = randomBytes(12 * 1024 * 1024);
    await writeFile(join(dir, "small.bin"), small);
    await writeFile(join(dir, "big.bin"), big);
    await rclone(["copy", dir, `emu:${T.bucket}/rclone`]);

    const bigInfo = emulator.objectInfo(T.bucket, "rclone/big.bin");
    assert.equal(bigInfo?.size, big.length);
    assert.equal(bigInfo?.sha256Hex, createHash("sha256").update(big).digest("hex"));
    assert.equal(bigInfo?.partsCount, 3, "rclone used multipart (5 MiB chunks)");
    assert.equal(
      emulator.objectInfo(T.bucket, "rclone/small.bin")?.sha256Hex,
      createHash("sha256").update(small).digest("hex"),
    );
    const s3Ops = emulator.requests().filter((r) => r.service === "s3");
    for (const op of [
      "PutObject",
      "CreateMultipartUpload",
      "UploadPart",
      "CompleteMultipartUpload",
    ]) {
      assert.ok(
        s3Ops.some((r) => r.operation === op && r.status === 200),
        `${op} succeeded`,
      );
    }

    const listed = JSON.parse(
      (await rclone(["lsjson", `emu:${T.bucket}/rclone`])).stdout,
    ) as Array<{ Path: string; Size: number }>;
    assert.deepEqual(listed.map((e) => [e.Path, e.Size]).sort(), [
      ["big.bin", big.length],
      ["small.bin", small.length],
    ]);

    const back = join(dir, "back");
    await rclone(["copy", `emu:${T.bucket}/rclone`, back]);
    assert.deepEqual(await readFile(join(back, "big.bin")), big);
    assert.deepEqual(await readFile(join(back, "small.bin")), small);
    await rclone(["check", dir, `emu:${T.bucket}/rclone`, "--exclude", "back/**"]);
  });

  it("sees the emulator's SignatureDoesNotMatch with a wrong secret", async () => {
    await assert.rejects(
      rclone(["lsjson", `emu:${T.bucket}/rclone`], "wrong-secret"),
      (e: Error & { stderr?: string }) => {
        assert.match(e.stderr ?? "", /SignatureDoesNotMatch/);
        return true;
      },
    );
  });
});
