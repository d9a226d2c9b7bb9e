/**
 * The `recording_storage` object (docs/api.md, recording_storage): one provider per object, every
 * field checked, unknown fields and anything secret-looking refused. Validation is a pure function
 * returning a discriminated union, so the HTTP layer, the CLI and the ingest path share one rule
 * set. The per-provider rules live in `src/providers/<cloud>/`; this is the part they share.
 */

import {
  keyTemplateOverwrites,
  keyTemplateProblem,
  overwriteWarning,
} from "../domain/key-template.ts";
import { findSecret, secretMessage } from "../domain/secrets.ts";
import { providerNamed, providers, type RecordingStorage, storageProviders } from "./index.ts";

/** Why an input was refused: the dotted path of the field and the rule, in plain words. */
export interface ValidationIssue {
  field: string;
  message: string;
}

/** Something accepted but worth telling the caller (docs/api.md, recording_storage: overwrite risk). */
export interface ValidationWarning {
  code: "KEY_TEMPLATE_OVERWRITES";
  field: string;
  message: string;
}

/** The outcome of validating an input. */
export type Validated<T> =
  | { ok: true; value: T; warnings: ValidationWarning[] }
  | { ok: false; issue: ValidationIssue };

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
  const names = storageProviders.join(", ");
  if (!isObject(input)) {
    const either = `${storageProviders.slice(0, -1).join(", ")} or ${storageProviders.at(-1)}`;
    return fail(
      path,
      path
        ? `must be an object with a provider (${either})`
        : `the body must be a recording_storage object with a provider (${either})`,
    );
  }
  const providerField = join(path, "provider");
  if (input.provider === undefined) return fail(providerField, `is required: one of ${names}`);
  const provider = typeof input.provider === "string" ? providerNamed(input.provider) : undefined;
  if (!provider) return fail(providerField, `must be one of ${names}`);
  const rules = provider.fields;
  const allowed = ["provider", ...Object.keys(rules), "key_template"];
  for (const name of Object.keys(input)) {
    if (allowed.includes(name)) continue;
    const owner = providers.find((other) => name in other.fields)?.name;
    return fail(
      join(path, name),
      owner
        ? `is a ${owner} field; exactly one provider per object, and a ${provider.name} destination takes ${allowed.join(", ")}`
        : `unknown field (a ${provider.name} destination takes ${allowed.join(", ")})`,
    );
  }
  const fields: Record<string, string> = { provider: provider.name };
  for (const [name, rule] of Object.entries(rules)) {
    const field = join(path, name);
    const raw = input[name];
    if (raw === undefined) return fail(field, "is required");
    if (typeof raw !== "string") return fail(field, "must be a string");
    const problem = rule(raw);
    if (problem) return fail(field, problem);
    fields[name] = raw;
  }
  const checked = provider.validate(fields as unknown as RecordingStorage);
  if (!("provider" in checked)) return fail(join(path, checked.field), checked.message);
  const value: RecordingStorage = { ...checked };
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
  return { ok: true, value, warnings };
}

/** The destination with its key template resolved, as captured for a conversation. */
export function withKeyTemplate(
  destination: RecordingStorage,
  defaultKeyTemplate: string,
): RecordingStorage & { key_template: string } {
  return { ...destination, key_template: destination.key_template ?? defaultKeyTemplate };
}
