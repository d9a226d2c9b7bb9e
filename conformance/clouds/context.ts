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
