/**
 * A staging store built on first use, so that a process staging locally never loads the AWS SDK
 * an S3 staging store needs.
 */
import type { StagingStore } from "./contract.ts";

/** A {@link StagingStore} described as `description` and built by `load` when first called. */
export function lazyStagingStore(
  description: string,
  load: () => Promise<StagingStore>,
): StagingStore {
  let loading: Promise<StagingStore> | undefined;
  const loaded = (): Promise<StagingStore> => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    description,
    append: async (id, offset, source, options) =>
      await (await loaded()).append(id, offset, source, options),
    async *read(id, range) {
      yield* (await loaded()).read(id, range);
    },
    delete: async (id, signal) => await (await loaded()).delete(id, signal),
    async *list(signal) {
      yield* (await loaded()).list(signal);
    },
    check: async (signal) => await (await loaded()).check(signal),
  };
}
