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
    async close() {
      await pool.end();
    },
  };
}
