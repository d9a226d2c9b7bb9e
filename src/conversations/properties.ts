/**
 * The recording-related `properties` of a new conversation (docs/api.md, Conversations): `enable_recording`,
 * `callback_url`, and a destination given either as `recording_storage` or as the seed's legacy
 * flat S3 fields, which map to `{provider: "s3"}` and go all three together.
 */

import {
  type AllowedNetworks,
  type AllowedPorts,
  callbackHostProblem,
  callbackPortProblem,
  urlPort,
} from "../domain/callback-address.ts";
import { findSecret, secretMessage } from "../domain/secrets.ts";
import type { RecordingStorage, S3Storage } from "../providers/index.ts";
import {
  type StorageValidationOptions,
  type Validated,
  type ValidationWarning,
  validateRecordingStorage,
} from "../providers/recording-storage.ts";
import { awsRegionCode, iamRoleArn, s3BucketName } from "../providers/s3/field-rules.ts";

/** The legacy flat S3 fields, each with the `recording_storage` field it maps to. */
export const legacyS3Fields = {
  aws_assume_role_arn: "assume_role_arn",
  recording_s3_bucket_name: "bucket_name",
  recording_s3_bucket_region: "bucket_region",
} as const;

type LegacyField = keyof typeof legacyS3Fields;

const legacyRules = {
  aws_assume_role_arn: iamRoleArn,
  recording_s3_bucket_name: s3BucketName,
  recording_s3_bucket_region: awsRegionCode,
} as const;

/** The properties as accepted (and shown back on reads). */
export interface ConversationProperties {
  enable_recording?: boolean;
  callback_url?: string;
  recording_storage?: RecordingStorage;
  aws_assume_role_arn?: string;
  recording_s3_bucket_name?: string;
  recording_s3_bucket_region?: string;
}

/** Validated properties and the destination they name (none: the workspace default applies). */
export interface ParsedProperties {
  properties: ConversationProperties;
  destination: RecordingStorage | undefined;
}

/** What property validation needs besides the input. */
export interface PropertiesValidationOptions extends StorageValidationOptions {
  /** Accept `http://` callback URLs (development only). */
  allowHttpCallbacks: boolean;
  /** Networks a callback may reach despite the SSRF rules (operator setting; empty by default). */
  callbackAllowedNetworks?: AllowedNetworks;
  /** Ports a callback may use beyond 443, 80 and 8443 (operator setting; none by default). */
  callbackAllowedPorts?: AllowedPorts;
}

const knownProperties = ["enable_recording", "callback_url", "recording_storage"] as const;
const legacyNames = Object.keys(legacyS3Fields) as LegacyField[];

const fail = (field: string, message: string) => ({
  ok: false as const,
  issue: { field, message },
});

/**
 * Checks a callback URL's shape and, where the URL alone tells, its host (IP literals and internal
 * names). Names are judged again on their resolved addresses by the webhook sender at connect time.
 */
export function callbackUrlProblem(
  value: string,
  allowHttp: boolean,
  allowed?: AllowedNetworks,
  allowedPorts?: AllowedPorts,
): string | undefined {
  if (value.length > 2048) return "must be at most 2048 characters";
  if (!URL.canParse(value)) return "must be an absolute URL, e.g. https://example.com/hooks";
  const url = new URL(value);
  if (url.protocol !== "https:" && !(allowHttp && url.protocol === "http:")) {
    return allowHttp ? "must be an https:// or http:// URL" : "must be an https:// URL";
  }
  if (url.hostname === "") return "must name a host";
  // Credentials in a URL end up in logs and event records; the receiver should check signatures.
  if (url.username || url.password) return "must not contain a user name or password";
  const hostProblem = callbackHostProblem(url.hostname, allowed);
  if (hostProblem) return `${hostProblem}; callbacks must reach a public address`;
  return callbackPortProblem(urlPort(url), allowedPorts);
}

/** Validates `properties` of `POST /v2/conversations` (absent properties are `{}`). */
export function parseConversationProperties(
  input: unknown,
  options: PropertiesValidationOptions,
): Validated<ParsedProperties> {
  if (input === undefined) input = {};
  if (input === null || typeof input !== "object" || Array.isArray(input)) {
    return fail("properties", "must be an object");
  }
  const raw = input as Record<string, unknown>;
  // Secret-looking names anywhere, then secret-looking values anywhere (the destination fields,
  // inside the callback URL's path, query and user information), come first: a pasted key must be
  // answered as a key, not as an unknown or malformed field.
  const byName = findSecret(raw, "properties", { values: false });
  if (byName) return fail(byName.field, secretMessage(byName));
  const byValue = findSecret(raw, "properties");
  if (byValue) return fail(byValue.field, secretMessage(byValue));
  for (const name of Object.keys(raw)) {
    if (!(knownProperties as readonly string[]).includes(name) && !(name in legacyS3Fields)) {
      return fail(`properties.${name}`, "unknown field");
    }
  }

  const properties: ConversationProperties = {};
  if (raw.enable_recording !== undefined) {
    if (typeof raw.enable_recording !== "boolean") {
      return fail("properties.enable_recording", "must be true or false");
    }
    properties.enable_recording = raw.enable_recording;
  }
  if (raw.callback_url !== undefined) {
    if (typeof raw.callback_url !== "string") {
      return fail("properties.callback_url", "must be a string");
    }
    const problem = callbackUrlProblem(
      raw.callback_url,
      options.allowHttpCallbacks,
      options.callbackAllowedNetworks,
      options.callbackAllowedPorts,
    );
    if (problem) return fail("properties.callback_url", problem);
    properties.callback_url = raw.callback_url;
  }

  const legacyGiven = legacyNames.filter((name) => raw[name] !== undefined);
  if (raw.recording_storage !== undefined && legacyGiven.length > 0) {
    return fail(
      "properties.recording_storage",
      `was sent together with the legacy field ${legacyGiven.join(", ")}: use one form, either recording_storage (preferred) or the three legacy fields aws_assume_role_arn, recording_s3_bucket_name, recording_s3_bucket_region`,
    );
  }

  let destination: RecordingStorage | undefined;
  let warnings: ValidationWarning[] = [];
  if (raw.recording_storage !== undefined) {
    const result = validateRecordingStorage(
      raw.recording_storage,
      "properties.recording_storage",
      options,
    );
    if (!result.ok) return result;
    destination = result.value;
    warnings = result.warnings;
    properties.recording_storage = destination;
  } else if (legacyGiven.length > 0) {
    const missing = legacyNames.filter((name) => raw[name] === undefined);
    if (missing.length > 0) {
      return fail(
        `properties.${missing[0]}`,
        `is required with ${legacyGiven.join(" and ")}: the legacy S3 fields aws_assume_role_arn, recording_s3_bucket_name and recording_s3_bucket_region go together`,
      );
    }
    const mapped: Record<string, unknown> = { provider: "s3" };
    for (const name of legacyNames) {
      const value = raw[name];
      if (typeof value !== "string") return fail(`properties.${name}`, "must be a string");
      const problem = legacyRules[name](value);
      if (problem) return fail(`properties.${name}`, problem);
      mapped[legacyS3Fields[name]] = value;
      properties[name] = value;
    }
    const result = validateRecordingStorage(mapped, "properties", options);
    if (!result.ok) {
      // Only cross-field rules can fail here; name the legacy field the caller actually sent.
      const inner = result.issue.field.replace(/^properties\./, "");
      const legacy = legacyNames.find((name) => legacyS3Fields[name] === inner);
      return fail(legacy ? `properties.${legacy}` : result.issue.field, result.issue.message);
    }
    destination = result.value as S3Storage;
    warnings = result.warnings.map((warning) => ({ ...warning, field: "properties" }));
  }
  return { ok: true, value: { properties, destination }, warnings };
}

/**
 * Validates the body of `POST /v2/conversations`: an object whose only field is `properties`.
 * Secret-looking field names are refused anywhere in it before anything else.
 */
export function parseCreateConversation(
  body: unknown,
  options: PropertiesValidationOptions,
): Validated<ParsedProperties> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return fail("", "the body must be a JSON object");
  }
  const byName = findSecret(body, "", { values: false });
  if (byName) return fail(byName.field, secretMessage(byName));
  for (const name of Object.keys(body)) {
    if (name !== "properties") return fail(name, "unknown field");
  }
  return parseConversationProperties((body as { properties?: unknown }).properties, options);
}

/** Validated changes of `PATCH /v2/conversations/{id}`. */
export interface ParsedPatch {
  /** A new callback URL; `null` stops events; absent: unchanged. */
  callbackUrl?: string | null;
  /** A new destination (from `recording_storage` or the legacy S3 fields); absent: unchanged. */
  destination?: RecordingStorage;
  /** The properties as sent (shown back merged into the conversation's). */
  properties: ConversationProperties;
}

const patchable = ["callback_url", "recording_storage", ...legacyNames] as const;

/**
 * Validates the body of `PATCH /v2/conversations/{id}`: `{properties}` with `callback_url`
 * (or `null`) and a destination, each checked exactly as on creation. `enable_recording` cannot be
 * changed.
 */
export function parseConversationPatch(
  body: unknown,
  options: PropertiesValidationOptions,
): Validated<ParsedPatch> {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    return fail("", "the body must be a JSON object");
  }
  const byName = findSecret(body, "", { values: false });
  if (byName) return fail(byName.field, secretMessage(byName));
  for (const name of Object.keys(body)) {
    if (name !== "properties") return fail(name, "unknown field");
  }
  const raw = (body as { properties?: unknown }).properties;
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    return fail("properties", "must be an object with callback_url and/or recording_storage");
  }
  const given = raw as Record<string, unknown>;
  for (const name of Object.keys(given)) {
    if (name === "enable_recording") {
      return fail(
        "properties.enable_recording",
        "cannot be changed: create a new conversation to record or stop recording",
      );
    }
    if (!(patchable as readonly string[]).includes(name)) {
      return fail(`properties.${name}`, "unknown field");
    }
  }
  if (Object.keys(given).length === 0) {
    return fail("properties", "must change callback_url and/or recording_storage");
  }
  const { callback_url: callbackUrl, ...rest } = given;
  const parsed = parseConversationProperties(callbackUrl === null ? rest : given, options);
  if (!parsed.ok) return parsed;
  const value: ParsedPatch = { properties: parsed.value.properties };
  if (callbackUrl === null) value.callbackUrl = null;
  else if (parsed.value.properties.callback_url !== undefined) {
    value.callbackUrl = parsed.value.properties.callback_url;
  }
  if (parsed.value.destination) value.destination = parsed.value.destination;
  return { ok: true, value, warnings: parsed.warnings };
}
