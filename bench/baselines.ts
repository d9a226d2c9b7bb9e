/**
 * What the relay's delivery is compared with: one plain single-stream PUT of the same file to
 * the same emulator (with credentials from the same federated exchanges), and Debian's rclone.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { crc32 } from "node:zlib";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { crc32c } from "@node-rs/crc32";
import { Agent, fetch } from "undici";
import { loadConfig } from "../src/config/index.ts";
import { uint32Base64 } from "../src/destinations/staged-checksums.ts";
import { blobServiceUrl, createAzureCredential } from "../src/providers/azure-blob/credentials.ts";
import { createGcpAuthClient, gcsAccessToken } from "../src/providers/gcs/credentials.ts";
import type { AzureBlobStorage, GcsStorage } from "../src/providers/index.ts";
import { destinationSettingsFrom } from "../src/runtime/destinations.ts";
import { openIssuer } from "../src/runtime/issuer.ts";
import type { BenchRig, Provider } from "./rig.ts";

/** Short-lived credentials per provider, from the same exchanges the relay makes. */
export interface BaselineCredentials {
  s3: { accessKeyId: string; secretAccessKey: string; sessionToken: string };
  gcsToken: string;
  azureToken: string;
}

/** Runs the three federated exchanges once, as the relay would for this workspace. */
export async function baselineCredentials(bench: BenchRig): Promise<BaselineCredentials> {
  const { rig, emulators, db } = bench;
  const config = loadConfig({ env: rig.env });
  const { issuer } = await openIssuer(config, db);
  const settings = destinationSettingsFrom(config);
  const workspaceId = rig.workspace.id;
  const mintToken = issuer.mintToken.bind(issuer);

  const sts = new STSClient({
    endpoint: emulators.aws.endpoint,
    region: "us-east-1",
    credentials: {
      accessKeyId: emulators.awsOperator.accessKeyId,
      secretAccessKey: emulators.awsOperator.secretAccessKey,
    },
  });
  const assumed = await sts.send(
    new AssumeRoleCommand({
      RoleArn: emulators.destinations.s3.assume_role_arn,
      RoleSessionName: "bench-baseline",
      ExternalId: workspaceId,
    }),
  );
  const c = assumed.Credentials!;

  const gcp = createGcpAuthClient({
    destination: emulators.destinations.gcs as GcsStorage,
    workspaceId,
    settings,
    mintToken,
  });
  const azure = createAzureCredential({
    destination: emulators.destinations.azure_blob as AzureBlobStorage,
    workspaceId,
    settings,
    mintToken,
  });
  const azureToken = await azure.getToken("https://storage.azure.com/.default");
  return {
    s3: {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    },
    gcsToken: await gcsAccessToken(gcp),
    azureToken: azureToken.token,
  };
}

/** One PUT of `file` to `key` in the provider's emulated bucket; resolves with milliseconds. */
export async function plainPut(
  bench: BenchRig,
  credentials: BaselineCredentials,
  provider: Provider,
  file: string,
  key: string,
): Promise<number> {
  const { emulators } = bench;
  const size = (await stat(file)).size;
  const started = performance.now();
  switch (provider) {
    case "s3": {
      const s3 = new S3Client({
        endpoint: emulators.aws.endpoint,
        region: emulators.destinations.s3.bucket_region,
        forcePathStyle: true,
        credentials: credentials.s3,
      });
      await s3.send(
        new PutObjectCommand({
          Bucket: emulators.destinations.s3.bucket_name,
          Key: key,
          Body: createReadStream(file),
          ContentLength: size,
        }),
      );
      break;
    }
    case "gcs": {
      const { bucket_name } = emulators.destinations.gcs;
      const url = `${emulators.gcp.endpoint}/upload/storage/v1/b/${bucket_name}/o?uploadType=media&name=${encodeURIComponent(key)}`;
      await send(url, "POST", file, size, { authorization: `Bearer ${credentials.gcsToken}` });
      break;
    }
    case "azure_blob": {
      const { storage_account, container } = emulators.destinations.azure_blob;
      const config = loadConfig({ env: bench.rig.env });
      const base = blobServiceUrl(destinationSettingsFrom(config), storage_account);
      await send(
        `${base}/${container}/${key}`,
        "PUT",
        file,
        size,
        {
          authorization: `Bearer ${credentials.azureToken}`,
          "x-ms-blob-type": "BlockBlob",
          "x-ms-version": "2025-01-05",
        },
        new Agent({ connect: { ca: emulators.azure.caCertPem } }),
      );
      break;
    }
  }
  return performance.now() - started;
}

async function send(
  url: string,
  method: string,
  file: string,
  size: number,
  headers: Record<string, string>,
  dispatcher?: Agent,
): Promise<void> {
  const response = await fetch(url, {
    method,
    headers: { ...headers, "content-length": String(size), "content-type": "video/mp4" },
    body: Readable.toWeb(createReadStream(file)) as ReadableStream,
    duplex: "half",
    ...(dispatcher ? { dispatcher } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url} answered ${response.status}: ${text}`);
}

/** Whether Debian's rclone is installed. */
export function rcloneVersion(): string | undefined {
  const result = spawnSync("rclone", ["version"], { encoding: "utf8" });
  return result.status === 0 ? result.stdout.split("\n")[0]?.trim() : undefined;
}

/**
 * `rclone copyto` of `file` into the emulated bucket; milliseconds, or the reason it cannot.
 * Configured through RCLONE_CONFIG_* variables only (no config file).
 */
export async function rcloneCopy(
  bench: BenchRig,
  credentials: BaselineCredentials,
  provider: Provider,
  file: string,
  key: string,
): Promise<number | string> {
  const { emulators } = bench;
  let env: Record<string, string>;
  let target: string;
  switch (provider) {
    case "s3":
      env = {
        RCLONE_CONFIG_DEST_TYPE: "s3",
        RCLONE_CONFIG_DEST_PROVIDER: "Other",
        RCLONE_CONFIG_DEST_ENDPOINT: emulators.aws.endpoint,
        RCLONE_CONFIG_DEST_REGION: emulators.destinations.s3.bucket_region,
        RCLONE_CONFIG_DEST_ACCESS_KEY_ID: credentials.s3.accessKeyId,
        RCLONE_CONFIG_DEST_SECRET_ACCESS_KEY: credentials.s3.secretAccessKey,
        RCLONE_CONFIG_DEST_SESSION_TOKEN: credentials.s3.sessionToken,
        RCLONE_CONFIG_DEST_FORCE_PATH_STYLE: "true",
      };
      target = `dest:${emulators.destinations.s3.bucket_name}/${key}`;
      break;
    case "gcs":
      env = {
        RCLONE_CONFIG_DEST_TYPE: "google cloud storage",
        RCLONE_CONFIG_DEST_ENDPOINT: `${emulators.gcp.endpoint}/storage/v1/`,
        RCLONE_CONFIG_DEST_TOKEN: JSON.stringify({
          access_token: credentials.gcsToken,
          token_type: "Bearer",
          expiry: new Date(Date.now() + 3_600_000).toISOString(),
        }),
        RCLONE_CONFIG_DEST_BUCKET_POLICY_ONLY: "true",
      };
      target = `dest:${emulators.destinations.gcs.bucket_name}/${key}`;
      break;
    case "azure_blob":
      return "n/a: rclone 1.60's Azure backend cannot be given an Entra access token";
  }
  const started = performance.now();
  // Not spawnSync: the emulators answer rclone from this very process's event loop.
  const child = spawn(
    "rclone",
    [
      "copyto",
      file,
      target,
      // Multipart (4 parts in flight, rclone's default) from 8 MiB, as for a real recording.
      "--s3-upload-cutoff",
      "8M",
      "--s3-chunk-size",
      "8M",
      "--s3-upload-concurrency",
      "4",
      // The role may write under its prefix only: no bucket creation or listing.
      "--s3-no-check-bucket",
    ],
    {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => {
    output += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    output += chunk;
  });
  const [code] = await once(child, "exit");
  if (code !== 0) return `failed: ${output.trim().slice(0, 200)}`;
  return performance.now() - started;
}

/**
 * The plain baseline of the deliveries section: `objects` PUT by this one process, `concurrency`
 * at a time, with the cached `credentials`, one client per cloud and the same checksums the relay
 * sends (S3 CRC32, GCS md5 + crc32c, Azure Content-MD5), no database; resolves with milliseconds.
 */
export async function plainSmallPuts(
  bench: BenchRig,
  credentials: BaselineCredentials,
  objects: { provider: Provider; key: string; bytes: Buffer }[],
  concurrency: number,
): Promise<number> {
  const { emulators } = bench;
  const s3 = new S3Client({
    endpoint: emulators.aws.endpoint,
    region: emulators.destinations.s3.bucket_region,
    forcePathStyle: true,
    credentials: credentials.s3,
  });
  const azureAgent = new Agent({ connect: { ca: emulators.azure.caCertPem } });
  const config = loadConfig({ env: bench.rig.env });
  const { storage_account, container } = emulators.destinations.azure_blob;
  const azureBase = `${blobServiceUrl(destinationSettingsFrom(config), storage_account)}/${container}`;
  const gcsBase = `${emulators.gcp.endpoint}/upload/storage/v1/b/${emulators.destinations.gcs.bucket_name}/o?uploadType=media&name=`;
  const put = async ({ provider, key, bytes }: (typeof objects)[number]) => {
    switch (provider) {
      case "s3":
        await s3.send(
          new PutObjectCommand({
            Bucket: emulators.destinations.s3.bucket_name,
            Key: key,
            Body: bytes,
            ContentLength: bytes.length,
            ChecksumCRC32: uint32Base64(crc32(bytes)),
          }),
        );
        return;
      case "gcs": {
        const md5 = createHash("md5").update(bytes).digest("base64");
        const response = await fetch(`${gcsBase}${encodeURIComponent(key)}`, {
          method: "POST",
          headers: {
            authorization: `Bearer ${credentials.gcsToken}`,
            "content-type": "video/mp4",
            "x-goog-hash": `crc32c=${uint32Base64(crc32c(bytes))},md5=${md5}`,
          },
          body: bytes,
        });
        await expectOk(response, "POST", key);
        return;
      }
      case "azure_blob": {
        const response = await fetch(`${azureBase}/${key}`, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${credentials.azureToken}`,
            "x-ms-blob-type": "BlockBlob",
            "x-ms-version": "2025-01-05",
            "content-type": "video/mp4",
            "content-md5": createHash("md5").update(bytes).digest("base64"),
          },
          body: bytes,
          dispatcher: azureAgent,
        });
        await expectOk(response, "PUT", key);
        return;
      }
    }
  };
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < objects.length) await put(objects[next++]!);
    }),
  );
  const ms = performance.now() - started;
  s3.destroy();
  await azureAgent.close();
  return ms;
}

async function expectOk(response: Awaited<ReturnType<typeof fetch>>, method: string, key: string) {
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${key} answered ${response.status}: ${text}`);
}
