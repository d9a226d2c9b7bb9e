/**
 * The `recording_storage` object (SPEC §3): one provider per object, every field checked, unknown
 * fields and anything secret-looking refused. Validation is a pure function returning a
 * discriminated union, so the HTTP layer, the CLI and later the ingest path share one rule set.
 */
import {
  awsRegionCode,
  azureContainer,
  azureStorageAccount,
  entraClientId,
  entraTenantId,
  type FieldRule,
  gcpProjectNumber,
  gcpServiceAccountEmail,
  gcsBucketName,
  iamRoleArn,
  partitionOfRegion,
  s3BucketName,
  workloadIdentityId,
} from "./field-rules.ts";
import { keyTemplateOverwrites, keyTemplateProblem, overwriteWarning } from "./key-template.ts";
import { findSecret, secretMessage } from "./secrets.ts";

/** An S3 destination: the relay assumes `assume_role_arn` with an ExternalId. */
export interface S3Storage {
  provider: "s3";
  bucket_name: string;
  bucket_region: string;
  assume_role_arn: string;
  key_template?: string;
}

/** A GCS destination: Workload Identity Federation, then impersonation of the service account. */
export interface GcsStorage {
  provider: "gcs";
  bucket_name: string;
  project_number: string;
  workload_identity_pool_id: string;
  workload_identity_provider_id: string;
  service_account_email: string;
  key_template?: string;
}

/** An Azure Blob destination: the App Registration's federated credential trusts the relay. */
export interface AzureBlobStorage {
  provider: "azure_blob";
  tenant_id: string;
  client_id: string;
  storage_account: string;
  container: string;
  key_template?: string;
}

/** A validated destination. */
export type RecordingStorage = S3Storage | GcsStorage | AzureBlobStorage;

/** A storage provider. */
export type StorageProvider = RecordingStorage["provider"];

/** The providers, in the order documentation lists them. */
export const storageProviders: readonly StorageProvider[] = ["s3", "gcs", "azure_blob"];

/** Why an input was refused: the dotted path of the field and the rule, in plain words. */
export interface ValidationIssue {
  field: string;
  message: string;
}

/** Something accepted but worth telling the caller (SPEC §3.1: overwrite risk). */
export interface ValidationWarning {
  code: "KEY_TEMPLATE_OVERWRITES";
  field: string;
  message: string;
}

/** The outcome of validating an input. */
export type Validated<T> =
  | { ok: true; value: T; warnings: ValidationWarning[] }
  | { ok: false; issue: ValidationIssue };

const fieldsOf = {
  s3: {
    bucket_name: s3BucketName,
    bucket_region: awsRegionCode,
    assume_role_arn: iamRoleArn,
  },
  gcs: {
    bucket_name: gcsBucketName,
    project_number: gcpProjectNumber,
    workload_identity_pool_id: workloadIdentityId,
    workload_identity_provider_id: workloadIdentityId,
    service_account_email: gcpServiceAccountEmail,
  },
  azure_blob: {
    tenant_id: entraTenantId,
    client_id: entraClientId,
    storage_account: azureStorageAccount,
    container: azureContainer,
  },
} as const satisfies Record<StorageProvider, Record<string, FieldRule>>;

const isObject = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);

const fail = (field: string, message: string): { ok: false; issue: ValidationIssue } => ({
  ok: false,
  issue: { field, message },
});

const join = (path: string, name: string) => (path ? `${path}.${name}` : name);

/** Options shared by every validation of a destination. */
export interface StorageValidationOptions {
  /** The operator's default key template, used (and warned about) when the field is omitted. */
  defaultKeyTemplate: string;
}

/**
 * Validates a `recording_storage` object found at `path` (e.g. `properties.recording_storage`;
 * empty when it is the whole body). Warnings concern the template in force, the default included.
 */
export function validateRecordingStorage(
  input: unknown,
  path: string,
  options: StorageValidationOptions,
): Validated<RecordingStorage> {
  const secret = findSecret(input, path);
  if (secret) return fail(secret.field, secretMessage(secret));
  if (!isObject(input)) {
    return fail(
      path,
      path
        ? "must be an object with a provider (s3, gcs or azure_blob)"
        : "the body must be a recording_storage object with a provider (s3, gcs or azure_blob)",
    );
  }
  const provider = input.provider;
  const providerField = join(path, "provider");
  if (provider === undefined) return fail(providerField, "is required: one of s3, gcs, azure_blob");
  if (typeof provider !== "string" || !(storageProviders as string[]).includes(provider)) {
    return fail(providerField, "must be one of s3, gcs, azure_blob");
  }
  const rules: Record<string, FieldRule> = fieldsOf[provider as StorageProvider];
  const allowed = ["provider", ...Object.keys(rules), "key_template"];
  for (const name of Object.keys(input)) {
    if (allowed.includes(name)) continue;
    const owner = storageProviders.find((other) => name in fieldsOf[other]);
    return fail(
      join(path, name),
      owner
        ? `is a ${owner} field; exactly one provider per object, and a ${provider} destination takes ${allowed.join(", ")}`
        : `unknown field (a ${provider} destination takes ${allowed.join(", ")})`,
    );
  }
  const value: Record<string, string> = { provider };
  for (const [name, rule] of Object.entries(rules)) {
    const field = join(path, name);
    const raw = input[name];
    if (raw === undefined) return fail(field, "is required");
    if (typeof raw !== "string") return fail(field, "must be a string");
    const problem = rule(raw);
    if (problem) return fail(field, problem);
    value[name] = raw;
  }
  if (provider === "azure_blob") {
    // GUIDs compare without case in Entra; one spelling keeps stored configs comparable.
    value.tenant_id = value.tenant_id!.toLowerCase();
    value.client_id = value.client_id!.toLowerCase();
  }
  if (provider === "s3") {
    const rolePartition = value.assume_role_arn!.split(":")[1];
    const regionPartition = partitionOfRegion(value.bucket_region!);
    if (rolePartition !== regionPartition) {
      return fail(
        join(path, "assume_role_arn"),
        `is in the ${rolePartition} partition but bucket_region ${value.bucket_region} is in ${regionPartition}; the role and the bucket must be in the same partition`,
      );
    }
  }
  const templateField = join(path, "key_template");
  if (input.key_template !== undefined) {
    if (typeof input.key_template !== "string") return fail(templateField, "must be a string");
    const problem = keyTemplateProblem(input.key_template);
    if (problem) return fail(templateField, problem);
    value.key_template = input.key_template;
  }
  const template = value.key_template ?? options.defaultKeyTemplate;
  const warnings: ValidationWarning[] = keyTemplateOverwrites(template)
    ? [
        {
          code: "KEY_TEMPLATE_OVERWRITES",
          field: templateField,
          message: overwriteWarning(template),
        },
      ]
    : [];
  return { ok: true, value: value as unknown as RecordingStorage, warnings };
}

/** The destination with its key template resolved, as captured for a conversation. */
export function withKeyTemplate(
  destination: RecordingStorage,
  defaultKeyTemplate: string,
): RecordingStorage & { key_template: string } {
  return { ...destination, key_template: destination.key_template ?? defaultKeyTemplate };
}

/** The non-secret facts of a destination safe to show in one line (logs, errors). */
export function describeDestination(destination: RecordingStorage): string {
  switch (destination.provider) {
    case "s3":
      return `s3 bucket ${destination.bucket_name} (${destination.bucket_region}) via ${destination.assume_role_arn}`;
    case "gcs":
      return `gcs bucket ${destination.bucket_name} via ${destination.service_account_email}`;
    case "azure_blob":
      return `azure_blob container ${destination.container} in ${destination.storage_account}`;
  }
}
