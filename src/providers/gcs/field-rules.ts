/**
 * The rules of the GCS `recording_storage` fields (docs/api.md, recording_storage), one function
 * per field, each returning the first broken rule in plain words or `undefined`.
 */
import type { FieldRule } from "../provider.ts";

const ipv4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** Google Cloud Storage bucket naming rules. */
export const gcsBucketName: FieldRule = (value) => {
  if (/[A-Z]/.test(value)) return "must be all lowercase";
  if (!/^[a-z0-9._-]*$/.test(value)) {
    return "may contain only lowercase letters, digits, dots (.), hyphens (-) and underscores (_)";
  }
  if (value.length < 3) return "must be at least 3 characters";
  if (value.includes(".")) {
    if (value.length > 222) return "must be at most 222 characters";
    const parts = value.split(".");
    if (parts.some((part) => part === "")) return "must not contain two adjacent dots";
    if (parts.some((part) => part.length > 63)) {
      return "must have dot-separated parts of at most 63 characters each";
    }
  } else if (value.length > 63) {
    return "must be at most 63 characters (up to 222 when it contains dots)";
  }
  if (!/^[a-z0-9]/.test(value) || !/[a-z0-9]$/.test(value)) {
    return "must start and end with a lowercase letter or digit";
  }
  if (ipv4.test(value)) return "must not be formatted as an IP address";
  if (value.startsWith("goog")) return "must not start with goog (reserved by Google)";
  if (/g[o0][o0]g[l1]e/.test(value)) {
    return "must not contain google or a close misspelling of it (reserved by Google)";
  }
  return undefined;
};

/** A GCP project number: digits only (the id `acme-prod` is not accepted). */
export const gcpProjectNumber: FieldRule = (value) => {
  if (/^[1-9]\d{0,19}$/.test(value)) return undefined;
  if (/^[a-z][a-z0-9-]*$/.test(value)) {
    return `must be the project number (digits only), not the project id; find it with gcloud projects describe ${value} --format='value(projectNumber)'`;
  }
  return "must be the project number: digits only, e.g. 123456789012";
};

/** A Workload Identity pool or provider id. */
export const workloadIdentityId: FieldRule = (value) => {
  if (/[A-Z]/.test(value)) return "must be all lowercase";
  if (!/^[a-z0-9-]*$/.test(value)) return "may contain only lowercase letters, digits and hyphens";
  if (value.length < 4 || value.length > 32) return "must be 4 to 32 characters";
  if (value.startsWith("gcp-")) return "must not start with gcp- (reserved by Google)";
  return undefined;
};

/** `<name>@<project-id>.iam.gserviceaccount.com`. */
export const gcpServiceAccountEmail: FieldRule = (value) => {
  const shape = "<name>@<project-id>.iam.gserviceaccount.com";
  if (/[A-Z]/.test(value)) return "must be all lowercase";
  const at = value.indexOf("@");
  if (at === -1 || value.indexOf("@", at + 1) !== -1) {
    return `must be a service account email: ${shape}`;
  }
  const name = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (!domain.endsWith(".iam.gserviceaccount.com")) {
    return `must be a user-managed service account: ${shape} (default and Google-managed service accounts are not supported)`;
  }
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(name)) {
    return "must have a name (before @) of 6 to 30 lowercase letters, digits and hyphens, starting with a letter";
  }
  const project = domain.slice(0, -".iam.gserviceaccount.com".length);
  // Domain-scoped projects (`example.com:acme`) appear as `acme.example.com`.
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9](?:\.[a-z0-9-]+)*$/.test(project)) {
    return `must name a valid project id between @ and .iam.gserviceaccount.com: ${shape}`;
  }
  return undefined;
};
