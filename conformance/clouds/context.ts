/** What creating a real customer needs from the run. */
import type { Relay } from "../relay.ts";

export interface CloudContext {
  relay: Relay;
  env: NodeJS.ProcessEnv;
  say: (line: string) => void;
  signal: AbortSignal;
  /** A random suffix for this run's names (buckets, roles, pools), so runs never collide. */
  suffix: string;
}

/**
 * Awaits a creation; when the cloud refused it (an error that is not the run's interruption),
 * calls `absent`: nothing was created, so nothing is to be removed (and a removal with the same
 * refused credentials would only fail again).
 */
export async function refusedMeansAbsent<T>(
  signal: AbortSignal,
  absent: () => void,
  creation: Promise<T>,
): Promise<T> {
  try {
    return await creation;
  } catch (error) {
    if (!signal.aborted) absent();
    throw error;
  }
}
