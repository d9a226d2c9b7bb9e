/** What commands read and write instead of touching `process` directly. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
  /** The terminal progress is drawn on, when stderr is one (absent: plain lines). */
  terminal?: NodeJS.WriteStream;
}

/** Ends a command with a documented exit code and a message on stderr (e.g. `deliver`'s 2 and 3). */
export class CliExit extends Error {
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** Exit codes of `deliver` (docs/feeding.md). */
export const deliverExit = { delivered: 0, failed: 1, usage: 2, connection: 3 } as const;

/** The real process's environment and output streams. */
export const processIo: CliIo = {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
  ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
};
