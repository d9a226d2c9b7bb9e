/** What `recording-relay migrate` runs (loaded by its command's action). */
import { migrate, openDatabase } from "../../db/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";

/** Applies pending migrations and says which. */
export async function runMigrate(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const db = await openDatabase(configFrom(io.env, options));
  try {
    const { applied } = await migrate(db);
    io.stdout(applied.length ? `applied: ${applied.join(", ")}` : "database is up to date");
  } finally {
    await db.close();
  }
}
