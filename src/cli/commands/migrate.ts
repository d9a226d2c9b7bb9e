import { Command } from "commander";
import { migrate, openDatabase } from "../../db/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom, databaseSettings, withSettings } from "../options.ts";

/** `recording-relay migrate`: applies pending database migrations and exits. */
export function migrateCommand(io: CliIo): Command {
  const command = new Command("migrate").description(
    "Apply pending database migrations (safe to run from several processes at once).",
  );
  withSettings(command, databaseSettings);
  return command.action(async (options: Record<string, unknown>) => {
    const db = await openDatabase(configFrom(io.env, options));
    try {
      const { applied } = await migrate(db);
      io.stdout(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
    } finally {
      await db.close();
    }
  });
}
