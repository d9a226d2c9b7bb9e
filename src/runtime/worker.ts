/**
 * Composition root of `worker`: the delivery engine without the HTTP API, for scale-out
 * (docs/operations.md, Scaling workers). Several workers on several machines share one
 * PostgreSQL server and an S3-compatible staging bucket.
 */
import pino from "pino";
import type { Config } from "../config/index.ts";
import { type Db, migrate, openDatabase } from "../db/index.ts";
import { destinationsFrom, trustFrom } from "./destinations.ts";
import { createEngine, type Engine } from "./engine.ts";
import { openIssuer } from "./issuer.ts";

/** A running worker process. */
export interface RunningWorker {
  db: Db;
  engine: Engine;
  close(): Promise<void>;
}

/** Opens the database (migrating it like `serve` does), then delivers until closed. */
export async function startWorker(config: Config): Promise<RunningWorker> {
  const db = await openDatabase(config);
  try {
    await migrate(db);
    const { issuer, masterKey } = await openIssuer(config, db);
    // Tokens are minted here too: the keys must exist (another process may not have run yet).
    await issuer.prepare();
    const logger = pino({ level: config.logLevel, base: { role: "worker" } });
    const engine = createEngine({
      config,
      db,
      createDestination: destinationsFrom(config, trustFrom(config), issuer),
      masterKey: masterKey.key,
      worker: true,
      log: logger,
    });
    await engine.start();
    return {
      db,
      engine,
      async close() {
        try {
          await engine.stop();
        } finally {
          await db.close();
        }
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
