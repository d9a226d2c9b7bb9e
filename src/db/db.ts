/**
 * The one database interface of the relay. Two implementations speak the same PostgreSQL dialect:
 * the embedded database (`embedded.ts`, the single-machine default: a PostgreSQL server the
 * process starts itself) and a PostgreSQL server of the operator's (`postgres.ts`, for
 * scale-out). Both are `pg` pools, so every query runs unchanged on both.
 */

/** Rows of a query. `bigint` columns arrive as JS numbers in both implementations. */
export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number;
}

/** Something that runs SQL: the database itself or an open transaction. */
export interface Queryable {
  /** Runs one parameterised statement (`$1`, `$2`, …). Pass jsonb values as JSON strings. */
  query<Row = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<Row>>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

/** A database connection (pool). */
export interface Db extends Queryable {
  readonly kind: "embedded" | "postgres";
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Calls `onNotify` for every `NOTIFY channel` (`pg_notify`) committed by any process sharing the
   * database, until the returned function is called. Delivery is best effort (a dropped
   * connection loses notifications until it is re-established), so listeners also poll.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>;
  /** Releases every connection (and, when embedded, the data directory). */
  close(): Promise<void>;
}
