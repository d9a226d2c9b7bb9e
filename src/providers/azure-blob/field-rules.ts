/**
 * The rules of the Azure Blob `recording_storage` fields (docs/api.md, recording_storage), one function
 * per field, each returning the first broken rule in plain words or `undefined`.
 */

import { isUuid } from "../../domain/ids.ts";
import type { FieldRule } from "../provider.ts";

/** A Microsoft Entra tenant id (the Directory ID). */
export const entraTenantId: FieldRule = (value) => {
  if (isUuid(value)) {
    return /^[0-]+$/.test(value) ? "must not be the nil UUID" : undefined;
  }
  if (value.includes(".")) {
    return "must be the tenant's UUID (Directory ID), not a domain name";
  }
  return "must be a UUID: the Directory (tenant) ID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47";
};

/** An App Registration's Application (client) ID. */
export const entraClientId: FieldRule = (value) => {
  if (isUuid(value)) {
    return /^[0-]+$/.test(value) ? "must not be the nil UUID" : undefined;
  }
  return "must be a UUID: the App Registration's Application (client) ID";
};

/** An Azure storage account name. */
export const azureStorageAccount: FieldRule = (value) => {
  if (value.includes(".")) {
    return "must be the account name only (acmerecordings), without .blob.core.windows.net";
  }
  if (/[A-Z]/.test(value)) return "must be all lowercase";
  if (!/^[a-z0-9]*$/.test(value)) return "may contain only lowercase letters and digits";
  if (value.length < 3 || value.length > 24) return "must be 3 to 24 characters";
  return undefined;
};

/** An Azure Blob container name. */
export const azureContainer: FieldRule = (value) => {
  if (/[A-Z]/.test(value)) return "must be all lowercase";
  if (!/^[a-z0-9-]*$/.test(value)) return "may contain only lowercase letters, digits and hyphens";
  if (value.length < 3 || value.length > 63) return "must be 3 to 63 characters";
  if (!/^[a-z0-9]/.test(value)) return "must start with a lowercase letter or digit";
  if (value.includes("--")) return "must not contain two adjacent hyphens";
  if (value.endsWith("-")) return "must not end with a hyphen";
  return undefined;
};
