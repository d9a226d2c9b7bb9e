import { Command } from "commander";
import type { CliIo } from "../io.ts";
import { databaseSettings, withSettings } from "../options.ts";

/** `recording-relay migrate`: applies pending database migrations and exits. */
export function migrateCommand(io: CliIo): Command {
  const command = new Command("migrate").description(
    "Apply pending database migrations (safe to run from several processes at once).",
  );
  withSettings(command, databaseSettings);
  return command.action(async (options: Record<string, unknown>) => {
    await (await import("../actions/migrate.ts")).runMigrate(io, options);
  });
}
