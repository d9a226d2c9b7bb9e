import { Command, CommanderError } from "commander";
import { type CliIo, deliverExit } from "../io.ts";
import { withSettings } from "../options.ts";

/** `recording-relay deliver <file> --conversation <id> [--wait]`. */
export function deliverCommand(io: CliIo): Command {
  const command = new Command("deliver")
    .description(
      "Upload a recording file through the relay's API (tus, resumable) to a conversation's destination; --wait follows it until delivered or failed. Exit codes: 0 delivered/accepted, 1 failed, 2 usage, 3 connection",
    )
    .argument("<file>", "the recording (an MP4 file)")
    .requiredOption("--conversation <id>", "the conversation the recording belongs to")
    .option(
      "--epoch-ms <ms>",
      "when the recording started (default: now); the same value resumes the same recording",
    )
    .option("--wait", "wait until the recording is delivered or failed, and say which")
    .option("--wait-timeout <seconds>", "give up waiting after this long (exit 3)", "900")
    .option("--chunk-mib <mib>", "bytes per PATCH request, in MiB", "8")
    .option(
      "--retry-seconds <seconds>",
      "how long to keep retrying while the relay is unreachable (exit 3 after)",
      "300",
    )
    .option(
      "--progress-interval <seconds>",
      "seconds between progress lines when not on a terminal",
      "5",
    );
  // Usage errors (a missing flag, an unknown option) exit 2, as the other usage errors here.
  command.exitOverride((error) => {
    if (error.exitCode === 0) throw error;
    throw new CommanderError(deliverExit.usage, error.code, error.message);
  });
  withSettings(command, ["dataDir", "relayUrl"]).action(
    async (file: string, options: Record<string, unknown>) => {
      await (await import("../actions/deliver.ts")).runDeliver(io, file, options);
    },
  );
  return command;
}
