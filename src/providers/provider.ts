/**
 * What one cloud provider knows, behind one object: its `recording_storage` fields and their rules,
 * how to describe a destination, how to build its adapter, its customer setup guide and its
 * settings from the configuration. The registry (`./index.ts`) lists the providers; the generic
 * code (validation, the destination factory, the setup guides, the CLI and the routes) iterates it.
 */
import type { Config } from "../config/index.ts";
import type { AdapterDeps } from "../destinations/adapter.ts";
import type { Destination } from "../destinations/contract.ts";
import type { CommonDestinationSettings } from "../destinations/settings.ts";
import type { SetupGuide, SetupInput } from "../setup/guide.ts";

/** A field rule: the first broken rule in plain words, or `undefined` when the value is valid. */
export type FieldRule = (value: string) => string | undefined;

/** The fields every `recording_storage` object has, whatever its provider. */
export interface StorageBase {
  provider: string;
  key_template?: string;
}

/** A cross-field problem of a destination: the field (relative to the object) and the rule. */
export interface StorageProblem {
  field: string;
  message: string;
}

/** The context of one destination: the workspace whose identity it writes with. */
export interface DestinationContext {
  workspaceId: string;
}

/**
 * One cloud provider. `S` is its `recording_storage` type, `Settings` its part of the destination
 * settings (under `settingsKey`), `AdapterSettings` what its adapter reads (common + its part).
 */
export interface Provider<
  S extends StorageBase,
  Settings = unknown,
  AdapterSettings = CommonDestinationSettings,
> {
  /** The `provider` value of its destinations (`s3`, `gcs`, `azure_blob`). */
  readonly name: S["provider"];
  /** The key of its settings in the destination settings (`aws`, `gcp`, `azure`). */
  readonly settingsKey: string;
  /** Its fields besides `provider` and `key_template`, in the order they are checked. */
  readonly fields: Readonly<Record<string, FieldRule>>;
  /**
   * Cross-field checks and normalisation once every field passed its rule (docs/api.md,
   * recording_storage): the destination to store, or the problem.
   */
  validate(storage: S): S | StorageProblem;
  /** The `storage_uri` of an object: `s3://…`, `gs://…`, `https://<account>.blob…`. */
  objectUri(storage: S, encodedKey: string): string;
  /** Builds the adapter bound to one workspace, reusing the workspace's cached clients. */
  createDestination(
    storage: S,
    context: DestinationContext,
    // The registry passes the settings of every provider; each reads its own part (method
    // parameters are compared both ways, so the registry can hold every provider).
    deps: AdapterDeps<AdapterSettings>,
  ): Destination;
  /** The customer setup guide (shell and Terraform) for one workspace. */
  setupGuide(input: SetupInput<S>): SetupGuide;
  /** Its settings with the real cloud's endpoints. */
  readonly defaultSettings: Settings;
  /** Its settings from the configuration (the one mapping of its config settings). */
  settingsFrom(config: Config): Settings;
}
