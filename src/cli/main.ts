import { Command, CommanderError } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { isAppError } from "../errors/index.ts";
import { keysCommand } from "./commands/keys.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { serveCommand } from "./commands/serve.ts";
import { setupCommand } from "./commands/setup.ts";
import { verifyCommand } from "./commands/verify.ts";
import { workerCommand } from "./commands/worker.ts";
import { apiKeyCommand, workspaceCommand } from "./commands/workspace.ts";

/** What commands read and write instead of touching `process` directly. */
export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (line: string) => void;
  stderr: (line: string) => void;
}

/** Builds the `recording-relay` program; `bin` adds the commands only it may compose. */
export function createCli(io: CliIo, extraCommands: Command[] = []): Command {
  const program = new Command("recording-relay")
    .description(
      "Deliver conversation recordings into customers' own buckets with federated identity.",
    )
    .version(packageJson.version)
    .showHelpAfterError()
    .exitOverride();
  program.configureOutput({
    writeOut: (text) => io.stdout(text.trimEnd()),
    writeErr: (text) => io.stderr(text.trimEnd()),
  });
  for (const command of [
    serveCommand(io),
    workerCommand(io),
    migrateCommand(io),
    workspaceCommand(io),
    apiKeyCommand(io),
    setupCommand(io),
    verifyCommand(io),
    ...extraCommands,
    keysCommand(io),
  ]) {
    program.addCommand(command);
  }
  return program;
}

/** Runs the CLI and returns the exit code; errors are reported as one clear line, never a stack. */
export async function runCli(
  argv: string[],
  io: CliIo,
  extraCommands: Command[] = [],
): Promise<number> {
  try {
    await createCli(io, extraCommands).parseAsync(argv, { from: "user" });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    if (isAppError(error) && error.code !== "INTERNAL_ERROR") {
      io.stderr(`error: ${error.message}`);
      // 78: EX_CONFIG (sysexits.h); a wrong master key is a configuration fault too.
      return error.code === "INVALID_CONFIG" || error.code === "MASTER_KEY_MISMATCH" ? 78 : 1;
    }
    io.stderr(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}
