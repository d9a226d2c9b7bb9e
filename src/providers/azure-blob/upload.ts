/**
 * The Azure Blob adapter. A blob that ends within its first block goes up in one Put Blob with its
 * Content-MD5 (Azure checks the body against it), the blob's MD5 set to the same value (so a later
 * stat can prove the object for idempotent redelivery), and the MD5 Azure computed over what it
 * received, echoed in the answer, checked. A larger blob: Put Block per part with its Content-MD5
 * (Azure checks each block), Put Block List at completion carrying the whole blob's MD5 as
 * `Content-MD5`, then the blob's properties checked.
 */
import { createHash, randomBytes } from "node:crypto";
import type { Agent } from "node:https";
import type { TokenCredential } from "@azure/identity";
import {
  type BlockBlobUploadOptions,
  ContainerClient,
  type StoragePipelineOptions,
} from "@azure/storage-blob";
import {
  type AdapterInputs,
  integrityError,
  withFreshCredentialRetry,
} from "../../destinations/adapter.ts";
import {
  type Destination,
  DestinationError,
  type DestinationStage,
  type LeftoverOutcome,
  type ObjectStat,
  type OpenUploadOptions,
  type Upload,
  type UploadResult,
} from "../../destinations/contract.ts";
import {
  basePartSize,
  growingPartSizes,
  MiB,
  PartWriter,
  partBody,
  partPoolFor,
} from "../../destinations/parts.ts";
import { agentOptionsOf, blobServiceUrl, diagnoseAuthority, STORAGE_SCOPE } from "./credentials.ts";
import { type AzureHintContext, classifyAzureFailure, observeAzureError } from "./errors.ts";
import type { AzureBlobAdapterSettings } from "./settings.ts";
import type { AzureBlobStorage } from "./storage.ts";

/** The Azure block ids a crashed worker may leave staged (their prefix). */
export type AzureBlobUploadHandle = { provider: "azure_blob"; key: string; blockIdPrefix: string };

/** Azure: at most 50 000 committed blocks per blob. */
const MAX_BLOCKS = 50_000;
const DEFAULT_BLOCK_BYTES = 8 * MiB;
const GROW_EVERY_BLOCKS = 5_000;

/** What the Azure adapter is built from: the credential is the App Registration's. */
export type AzureDestinationInputs = AdapterInputs<
  AzureBlobStorage,
  TokenCredential,
  AzureHintContext,
  AzureBlobAdapterSettings
>;

/** Codes after which a new token may succeed where the cached one failed. */
const staleTokenCodes = new Set(["InvalidAuthenticationInfo", "AuthenticationFailed"]);

/**
 * The container clients of each (cached) credential, by container URL and retry settings. A
 * destination is built per delivery, and a new ContainerClient builds the whole storage pipeline:
 * sharing it while the credential lives saves that on every delivery. A credential the cloud
 * refused is replaced in the credential cache, so its clients go with it (the map is keyed weakly
 * by the credential).
 */
const containerClients = new WeakMap<TokenCredential, Map<string, ContainerClient>>();

function containerClientFor(
  containerUrl: string,
  credential: TokenCredential,
  pipelineOptions: StoragePipelineOptions,
): ContainerClient {
  let clients = containerClients.get(credential);
  if (!clients) {
    clients = new Map();
    containerClients.set(credential, clients);
  }
  // The retry and timeout settings are part of the pipeline (the endpoint is in the URL).
  const key = `${containerUrl}\n${JSON.stringify(pipelineOptions.retryOptions)}`;
  let client = clients.get(key);
  if (!client) {
    client = new ContainerClient(containerUrl, credential, pipelineOptions);
    clients.set(key, client);
  }
  return client;
}

/** Builds the Azure Blob destination. */
export function createAzureBlobDestination(
  inputs: AzureDestinationInputs,
): Omit<Destination, "checkSafety"> {
  const { destination, settings, hints } = inputs;
  const containerUrl = `${blobServiceUrl(settings, destination.storage_account)}/${destination.container}`;
  // `agent` is passed through to the core pipeline like every option storage-blob does not know.
  const pipelineOptions: StoragePipelineOptions & { agent?: Agent } = {
    retryOptions: {
      maxTries: settings.maxAttempts,
      retryDelayInMs: settings.retryBaseDelayMs,
      maxRetryDelayInMs: 20_000,
      tryTimeoutInMs: settings.requestTimeoutMs,
    },
    ...agentOptionsOf(settings, settings.azure.blobEndpointTemplate),
  };
  let container = containerClientFor(containerUrl, inputs.credential.get(), pipelineOptions);
  const where = (key: string) => `${destination.storage_account}/${destination.container}/${key}`;

  const fail = (error: unknown, summary: string, stage: DestinationStage = "storage") => {
    if (error instanceof DestinationError) return error;
    const observed = observeAzureError(error, stage);
    const identity = observed.stage === "identity";
    return new DestinationError(
      identity ? `the Entra ID token request for ${destination.client_id} failed` : summary,
      classifyAzureFailure(observed, hints),
      { cause: error },
    );
  };

  /** Classifies, asking Entra directly when MSAL hid its answer behind endpoints_resolution_error. */
  const classify = async (error: unknown, summary: string, stage: DestinationStage = "storage") => {
    const classified = fail(error, summary, stage);
    if (
      classified.stage === "identity" &&
      /endpoints_resolution_error/.test(classified.cloudMessage)
    ) {
      const diagnosed = await diagnoseAuthority(
        settings,
        destination.tenant_id,
        AbortSignal.timeout(10_000),
      );
      if (diagnosed) {
        return new DestinationError(
          `the Entra ID token request for ${destination.client_id} failed`,
          classifyAzureFailure({ stage: "identity", ...diagnosed }, hints),
          { cause: error },
        );
      }
      return new DestinationError(
        `the Entra ID token request for ${destination.client_id} failed`,
        classifyAzureFailure(
          {
            stage: "identity",
            code: "temporarily_unavailable",
            message: classified.cloudMessage,
            httpStatus: 503,
          },
          hints,
        ),
        { cause: error },
      );
    }
    return classified;
  };

  /** Runs a call; a refused token gets one retry with a fresh credential and client. */
  const call = <T>(run: (c: ContainerClient) => Promise<T>, summary: string): Promise<T> =>
    withFreshCredentialRetry(() => run(container), {
      classify: (error) => classify(error, summary),
      isStale: (classified) =>
        classified.stage === "storage" && staleTokenCodes.has(classified.cloudCode),
      refresh: () => {
        // MSAL and the bearer policy both cache the refused token: only new objects get a new one.
        inputs.credential.reset();
        container = containerClientFor(containerUrl, inputs.credential.get(), pipelineOptions);
      },
    });

  return {
    provider: "azure_blob",

    async checkIdentity(signal) {
      // A live check: a fresh exchange, whose credential replaces the workspace's cached one.
      inputs.credential.reset();
      container = containerClientFor(containerUrl, inputs.credential.get(), pipelineOptions);
      try {
        await inputs.credential.get().getToken(STORAGE_SCOPE, { abortSignal: signal });
      } catch (error) {
        throw await classify(error, "the Entra ID token request failed", "identity");
      }
      return { exchange: "pass", impersonation: "skip" };
    },

    async openUpload(key, options) {
      return openAzureUpload(key, options);
    },

    async stat(key, signal): Promise<ObjectStat> {
      try {
        const properties = await call(
          (c) => c.getBlockBlobClient(key).getProperties({ abortSignal: signal }),
          `could not read ${where(key)}`,
        );
        return {
          exists: true,
          sizeBytes: properties.contentLength ?? 0,
          checksums: {
            ...(properties.contentMD5
              ? { md5Base64: Buffer.from(properties.contentMD5).toString("base64") }
              : {}),
            ...(properties.etag ? { etag: properties.etag } : {}),
          },
        };
      } catch (error) {
        // HEAD answers carry the code only in x-ms-error-code: BlobNotFound vs ContainerNotFound.
        if (
          error instanceof DestinationError &&
          (error.cloudCode === "BlobNotFound" || error.cloudCode === "404")
        ) {
          return { exists: false };
        }
        throw error;
      }
    },

    async putSmallObject(key, bytes, signal) {
      await call(
        (c) =>
          c.getBlockBlobClient(key).upload(bytes, bytes.length, {
            abortSignal: signal,
            blobHTTPHeaders: { blobContentMD5: createHash("md5").update(bytes).digest() },
          }),
        `could not write ${where(key)}`,
      );
    },

    async deleteObject(key, signal) {
      await call(
        (c) => c.getBlockBlobClient(key).deleteIfExists({ abortSignal: signal }),
        `could not delete ${where(key)}`,
      );
    },

    async abortLeftover(handle, signal): Promise<LeftoverOutcome> {
      if (handle.provider !== "azure_blob")
        throw new Error(`not an Azure upload: ${handle.provider}`);
      // Azure has no abort for a block blob: uncommitted blocks cannot be deleted on their own.
      // They are discarded by the next Put Block List on the key (the redelivery's) or by Azure
      // after 7 days. What can be checked is that this attempt committed nothing: its block ids
      // all start with the handle's prefix, so a committed one means the upload had completed.
      const blocks = await call(
        (c) =>
          c
            .getBlockBlobClient(handle.key)
            .getBlockList("committed", { abortSignal: signal })
            .catch((error: unknown) => {
              if ((error as { statusCode?: number }).statusCode === 404) {
                return { committedBlocks: [] };
              }
              throw error;
            }),
        `could not read the block list of ${where(handle.key)}`,
      );
      const ours = (blocks.committedBlocks ?? []).some((block) =>
        Buffer.from(block.name, "base64")
          .toString()
          .startsWith((handle as AzureBlobUploadHandle).blockIdPrefix),
      );
      return ours ? "already_gone" : "nothing_to_abort";
    },
  };

  function openAzureUpload(key: string, options: OpenUploadOptions): Upload {
    // One random prefix per upload, fixed-width index: every block id of the blob has one length.
    const blockIdPrefix = randomBytes(12).toString("hex");
    const handle: AzureBlobUploadHandle = { provider: "azure_blob", key, blockIdPrefix };
    // Blocks are staged only once the blob outgrows its first block; until then there is nothing
    // a crash could leave behind, so no handle to record.
    let staging = false;
    /** Put Blob's answer when the blob fit in one block. */
    let single: { contentMD5?: Uint8Array; etag?: string } | undefined;
    const blockIds: string[] = [];
    const whole = createHash("md5");
    let onlyBlockMd5: Buffer | undefined;
    let completed: UploadResult | undefined;
    const writeSummary = `could not write ${where(key)}`;

    const plan = growingPartSizes(
      basePartSize({
        expectedSizeBytes: options.expectedSizeBytes,
        defaultBytes: DEFAULT_BLOCK_BYTES,
        maxParts: MAX_BLOCKS / 2,
      }),
      GROW_EVERY_BLOCKS,
    );
    const firstBlockBytes = plan(1);
    const writer = new PartWriter<{ blockId: string; md5: Buffer }>({
      plan,
      pool: partPoolFor(settings.memoryBudgetBytes),
      inFlight: settings.partsInFlight,
      // In block order, as each block fills: its id (listed in order) and MD5, the blob's MD5.
      prepare: (part, number, final) => {
        const blockId = Buffer.from(`${blockIdPrefix}${String(number).padStart(6, "0")}`).toString(
          "base64",
        );
        const md5 = createHash("md5").update(part).digest();
        if (final && number === 1) {
          // The block is the whole blob: its MD5 is the blob's, no second pass over the bytes.
          onlyBlockMd5 = md5;
        } else {
          if (part.length > 0) blockIds.push(blockId);
          whole.update(part);
        }
        return { blockId, md5 };
      },
      send: async (part, number, final, { blockId, md5 }, signal) => {
        if (final && number === 1) {
          // The whole blob in one block: one Put Blob. `transactionalContentMD5` (the request's
          // Content-MD5, which Azure checks the body against) is honoured by BlockBlobClient.upload
          // although its options type does not list it.
          const putBlob: BlockBlobUploadOptions & { transactionalContentMD5: Uint8Array } = {
            abortSignal: signal,
            blobHTTPHeaders: {
              blobContentType: options.contentType ?? "video/mp4",
              blobContentMD5: md5,
            },
            transactionalContentMD5: md5,
          };
          single = await call(
            (c) => c.getBlockBlobClient(key).upload(part, part.length, putBlob),
            writeSummary,
          );
          return;
        }
        if (part.length === 0) return;
        await call(
          (c) =>
            // In slices (partBody): a whole block is encrypted at once on the TLS socket.
            c.getBlockBlobClient(key).stageBlock(blockId, partBody(part), part.length, {
              abortSignal: signal,
              transactionalContentMD5: md5,
            }),
          writeSummary,
        );
      },
    });

    return {
      /** Set once the blob outgrew one block and blocks are being staged. */
      get handle() {
        return staging ? handle : undefined;
      },
      get bytesWritten() {
        return writer.bytesWritten;
      },
      async write(chunk, signal) {
        // This write fills the first block, so it is not the last: blocks will be staged,
        // recorded before the first one is sent.
        if (!staging && writer.bytesWritten + chunk.length >= firstBlockBytes) {
          staging = true;
          await options.onHandle?.(handle);
        }
        await writer.write(chunk, signal);
      },
      async complete(signal) {
        if (completed) return completed;
        await writer.finish(signal);
        const md5 = onlyBlockMd5 ?? whole.digest();
        if (single?.contentMD5) {
          // Put Blob's Content-MD5 is what Azure computed over the bytes it stored, and it refused
          // the request had they not matched ours: no Get Properties needed to prove the blob.
          const storedMd5 = Buffer.from(single.contentMD5).toString("base64");
          if (storedMd5 !== md5.toString("base64")) {
            throw integrityError(
              "the blob Azure stored",
              `Azure computed Content-MD5 ${storedMd5}; sent ${writer.bytesWritten} bytes, MD5 ${md5.toString("base64")}`,
            );
          }
          completed = {
            key,
            sizeBytes: writer.bytesWritten,
            checksums: {
              md5Base64: storedMd5,
              ...(single.etag ? { etag: single.etag } : {}),
            },
          };
          return completed;
        }
        // Blocks (or a Put Blob answered without its MD5): commit them, then read back.
        if (!single) {
          await call(
            (c) =>
              c.getBlockBlobClient(key).commitBlockList(blockIds, {
                abortSignal: signal,
                blobHTTPHeaders: {
                  blobContentType: options.contentType ?? "video/mp4",
                  blobContentMD5: md5,
                },
              }),
            `could not commit ${where(key)}`,
          );
        }
        const properties = await call(
          (c) => c.getBlockBlobClient(key).getProperties({ abortSignal: signal }),
          `could not read back ${where(key)} after committing it`,
        );
        const storedMd5 = properties.contentMD5
          ? Buffer.from(properties.contentMD5).toString("base64")
          : undefined;
        if (
          properties.contentLength !== writer.bytesWritten ||
          storedMd5 !== md5.toString("base64")
        ) {
          throw integrityError(
            "the blob Azure stored",
            `Azure reports ${properties.contentLength} bytes, Content-MD5 ${storedMd5}; sent ${writer.bytesWritten} bytes, MD5 ${md5.toString("base64")}`,
          );
        }
        completed = {
          key,
          sizeBytes: writer.bytesWritten,
          checksums: {
            md5Base64: md5.toString("base64"),
            ...(properties.etag ? { etag: properties.etag } : {}),
          },
        };
        return completed;
      },
      async abort() {
        await writer.close();
        // Nothing to remove: blocks are only staged until complete() commits them, Azure has no
        // call deleting uncommitted blocks, and it discards them at the key's next commit or
        // after 7 days (see LeftoverOutcome).
      },
    };
  }
}
