/**
 * What one cloud provider knows, behind one object: its `recording_storage` fields and their rules,
 * how to describe a destination, how to build its adapter, its customer setup guide and its
 * settings from the configuration. The registry (`./index.ts`) lists the providers; the generic
 * code (validation, the destination factory, the setup guides, the CLI and the routes) iterates it.
 */
import type { Config } from "../config/index.ts";
import type { Destination } from "../destinations/contract.ts";
import type { DestinationFactoryDeps } from "../destinations/factory.ts";
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
 * settings (under `settingsKey`).
 */
export interface Provider<S extends StorageBase, Settings = unknown> {
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
  /** The non-secret facts of a destination safe to show in one line (logs, errors). */
  describe(storage: S): string;
  /** Builds the adapter bound to one workspace, reusing the workspace's cached clients. */
  createDestination(
    storage: S,
    context: DestinationContext,
    deps: DestinationFactoryDeps,
  ): Destination;
  /** The customer setup guide (shell and Terraform) for one workspace. */
  setupGuide(input: SetupInput): SetupGuide;
  /** Its settings with the real cloud's endpoints. */
  readonly defaultSettings: Settings;
  /** Its settings from the configuration (the one mapping of its config settings). */
  settingsFrom(config: Config): Settings;
}
