/**
 * A destination whose adapter (and its cloud SDK) is loaded on first use: a process that never
 * delivers to a cloud never loads that cloud's SDK, which is most of an idle process's memory.
 */
import type { Destination } from "./contract.ts";

/** A {@link Destination} that builds the real one with `load` when first called. */
export function lazyDestination(provider: string, load: () => Promise<Destination>): Destination {
  let loading: Promise<Destination> | undefined;
  const loaded = (): Promise<Destination> => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return {
    provider,
    checkIdentity: async (signal) => await (await loaded()).checkIdentity(signal),
    openUpload: async (key, options) => await (await loaded()).openUpload(key, options),
    stat: async (key, signal) => await (await loaded()).stat(key, signal),
    putSmallObject: async (key, bytes, signal) =>
      await (await loaded()).putSmallObject(key, bytes, signal),
    deleteObject: async (key, signal) => await (await loaded()).deleteObject(key, signal),
    abortLeftover: async (handle, signal) => await (await loaded()).abortLeftover(handle, signal),
    checkSafety: async (signal) => await (await loaded()).checkSafety(signal),
  };
}
