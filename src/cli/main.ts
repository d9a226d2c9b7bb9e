import { Command, CommanderError } from "commander";
import packageJson from "../../package.json" with { type: "json" };
import { AppError, type ErrorCode, isAppError } from "../errors/index.ts";
import { deliverCommand } from "./commands/deliver.ts";
import { keysCommand } from "./commands/keys.ts";
import { migrateCommand } from "./commands/migrate.ts";
import { serveCommand } from "./commands/serve.ts";
import { setupCommand } from "./commands/setup.ts";
import { verifyCommand } from "./commands/verify.ts";
import { workerCommand } from "./commands/worker.ts";
import { apiKeyCommand, workspaceCommand } from "./commands/workspace.ts";
import { CliExit, type CliIo } from "./io.ts";

/**
 * The commands a development checkout adds (emulators/dev/cli.ts). A production install answers
 * them with one clear line instead of "unknown command": they need the emulators, which are not
 * part of the package's production graph.
 */
const developmentCommands = {
  demo: "Run the emulated clouds and a relay, and show three deliveries and one explained failure",
  emulators: "Run local stand-ins for AWS, GCP and Azure, each with a customer trusting the relay",
} as const;

function developmentOnly(name: keyof typeof developmentCommands): Command {
  return new Command(name)
    .description(`${developmentCommands[name]} (development checkout only)`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new AppError(
        "NOT_CONFIGURED",
        `\`${name}\` runs from a development checkout of recording-relay: clone the repository, then \`npm install && npm run ${name}\``,
      );
    });
}

/** Builds the `recording-relay` program; a development entry adds the commands it composes. */
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
    deliverCommand(io),
    ...extraCommands,
    ...Object.keys(developmentCommands)
      .filter((name) => !extraCommands.some((command) => command.name() === name))
      .map((name) => developmentOnly(name as keyof typeof developmentCommands)),
    keysCommand(io),
  ]) {
    program.addCommand(command);
  }
  return program;
}

/**
 * Errors that exit with 78, EX_CONFIG (sysexits.h): the settings, a wrong master key, or a root
 * start the embedded database cannot run under are all the operator's configuration to fix.
 */
const configFaults = new Set<ErrorCode>([
  "INVALID_CONFIG",
  "MASTER_KEY_MISMATCH",
  "EMBEDDED_DATABASE_AS_ROOT",
]);

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
    if (error instanceof CliExit) {
      io.stderr(`error: ${error.message}`);
      return error.exitCode;
    }
    if (isAppError(error) && error.code !== "INTERNAL_ERROR") {
      io.stderr(`error: ${error.message}`);
      return configFaults.has(error.code) ? 78 : 1;
    }
    io.stderr(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}
