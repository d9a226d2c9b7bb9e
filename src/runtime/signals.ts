/** Graceful shutdown of a long-running command (`serve`, `worker`). */

/** Closes `server` on SIGINT/SIGTERM within the deadline; a second signal exits at once. */
export function closeOnSignals(
  server: { close(): Promise<void> },
  shutdownTimeoutMs: number,
  log: (line: string) => void,
): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) {
      log(`${signal} again: exiting now`);
      process.exit(1);
    }
    closing = true;
    log(`${signal}: finishing in-flight requests (up to ${shutdownTimeoutMs} ms)`);
    const deadline = setTimeout(() => {
      log("shutdown deadline passed: exiting with requests still open");
      process.exit(1);
    }, shutdownTimeoutMs);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log(`shutdown failed: ${String(error)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
