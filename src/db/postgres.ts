import pg from "pg";
import type { Db, Queryable } from "./db.ts";

/** Options of {@link openPostgres}. */
export interface PostgresOptions {
  connectionString: string;
  poolSize: number;
  /** Called when an idle pooled connection fails (server restart, network); the pool replaces it. */
  onIdleError?: (error: Error) => void;
}

const INT8_OID = 20;

// Sizes and epoch milliseconds are int8; they stay far below 2^53, and both implementations must
// hand out the same JS type, so parse them as numbers.
const types = {
  getTypeParser(oid: number, format?: "text" | "binary") {
    if (oid === INT8_OID && format !== "binary") return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
};

/** Opens a pool to a PostgreSQL server. */
export function openPostgres({ connectionString, poolSize, onIdleError }: PostgresOptions): Db {
  const pool = new pg.Pool({
    connectionString,
    max: poolSize,
    types: types as pg.CustomTypesConfig,
  });
  // Without a listener, an idle connection's error would crash the process.
  pool.on("error", (error) => onIdleError?.(error));

  const wrap = (client: pg.Pool | pg.PoolClient): Queryable => ({
    async query<Row>(sql: string, params?: unknown[]) {
      const result = await client.query(sql, params);
      return { rows: result.rows as Row[], rowCount: result.rowCount ?? 0 };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
  });

  return {
    kind: "postgres",
    ...wrap(pool),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await fn(wrap(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    listen: (channel, onNotify) => listen(connectionString, channel, onNotify, onIdleError),
    async close() {
      await pool.end();
    },
  };
}

/** How long a listener waits before reconnecting after its connection failed. */
const RELISTEN_DELAY_MS = 1_000;

/**
 * A dedicated connection (LISTEN needs one outside the pool) that reconnects after failures;
 * notifications sent while it is down are lost, which the callers' polling covers.
 */
async function listen(
  connectionString: string,
  channel: string,
  onNotify: () => void,
  onError: ((error: Error) => void) | undefined,
): Promise<() => Promise<void>> {
  if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`bad channel name ${channel}`);
  let client: pg.Client | undefined;
  let stopped = false;
  let retry: NodeJS.Timeout | undefined;
  const connect = async (): Promise<void> => {
    const next = new pg.Client({ connectionString });
    next.on("notification", (message) => {
      if (message.channel === channel) onNotify();
    });
    next.on("error", (error) => {
      onError?.(error);
      next.end().catch(() => {});
      if (client === next) client = undefined;
      schedule();
    });
    await next.connect();
    await next.query(`LISTEN ${channel}`);
    if (stopped) {
      await next.end();
      return;
    }
    client = next;
    // Whatever was notified while reconnecting is found by one extra look.
    onNotify();
  };
  const schedule = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = undefined;
      connect().catch((error: Error) => {
        onError?.(error);
        schedule();
      });
    }, RELISTEN_DELAY_MS);
    retry.unref();
  };
  await connect();
  return async () => {
    stopped = true;
    clearTimeout(retry);
    await client?.end().catch(() => {});
    client = undefined;
  };
}
