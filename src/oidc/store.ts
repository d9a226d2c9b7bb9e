/** Every SQL statement about `signing_keys`. Times are the injected clock's, passed as parameters. */
import type { Queryable } from "../db/index.ts";
import type { NewSigningKey, PublicJwk } from "./keys.ts";

/** One stored key's public half and schedule (epoch milliseconds). */
export interface SigningKeyRecord {
  kid: string;
  publicJwk: PublicJwk;
  publishAt: number;
  activateAt: number;
  retireAt: number | null;
  unpublishAt: number | null;
}

interface Row {
  kid: string;
  public_jwk: PublicJwk;
  publish_at: Date;
  activate_at: Date;
  retire_at: Date | null;
  unpublish_at: Date | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const columns = "kid, public_jwk, publish_at, activate_at, retire_at, unpublish_at";

function toRecord(row: Row): SigningKeyRecord {
  return {
    kid: row.kid,
    publicJwk: row.public_jwk,
    publishAt: row.publish_at.getTime(),
    activateAt: row.activate_at.getTime(),
    retireAt: row.retire_at?.getTime() ?? null,
    unpublishAt: row.unpublish_at?.getTime() ?? null,
  };
}

/** Every stored key, oldest activation first. */
export async function listKeyRecords(q: Queryable): Promise<SigningKeyRecord[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${columns} FROM signing_keys ORDER BY activate_at, kid`,
  );
  return rows.map(toRecord);
}

/** The keys in the JWKS at `now`: published and not yet withdrawn. */
export async function publishedKeys(q: Queryable, now: number): Promise<SigningKeyRecord[]> {
  const { rows } = await q.query<Row>(
    `SELECT ${columns} FROM signing_keys
      WHERE publish_at <= $1::timestamptz AND (unpublish_at IS NULL OR unpublish_at > $1::timestamptz)
      ORDER BY activate_at DESC, kid`,
    [iso(now)],
  );
  return rows.map(toRecord);
}

/** The key that signs at `now` (the newest activated one that is not retired), sealed. */
export async function signingKeyAt(
  q: Queryable,
  now: number,
): Promise<{ kid: string; sealed: Uint8Array } | undefined> {
  const { rows } = await q.query<{ kid: string; private_key_encrypted: Uint8Array }>(
    `SELECT kid, private_key_encrypted FROM signing_keys
      WHERE activate_at <= $1::timestamptz AND (retire_at IS NULL OR retire_at > $1::timestamptz)
      ORDER BY activate_at DESC LIMIT 1`,
    [iso(now)],
  );
  const row = rows[0];
  return row ? { kid: row.kid, sealed: row.private_key_encrypted } : undefined;
}

/** The sealed private halves of every key not yet withdrawn (to check the master key at start). */
export async function sealedLiveKeys(
  q: Queryable,
  now: number,
): Promise<{ kid: string; sealed: Uint8Array }[]> {
  const { rows } = await q.query<{ kid: string; private_key_encrypted: Uint8Array }>(
    `SELECT kid, private_key_encrypted FROM signing_keys
      WHERE unpublish_at IS NULL OR unpublish_at > $1::timestamptz ORDER BY activate_at`,
    [iso(now)],
  );
  return rows.map((row) => ({ kid: row.kid, sealed: row.private_key_encrypted }));
}

/** How many keys are stored (any state). */
export async function countKeys(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ count: number }>(
    "SELECT count(*)::int8 AS count FROM signing_keys",
  );
  return rows[0]?.count ?? 0;
}

/** Stores a new key with its publication and activation times. */
export async function insertKey(
  q: Queryable,
  key: NewSigningKey,
  schedule: { publishAt: number; activateAt: number },
): Promise<void> {
  await q.query(
    `INSERT INTO signing_keys (kid, alg, public_jwk, private_key_encrypted, publish_at, activate_at)
     VALUES ($1, $2, $3::jsonb, $4, $5::timestamptz, $6::timestamptz)`,
    [
      key.kid,
      key.publicJwk.alg,
      JSON.stringify(key.publicJwk),
      key.sealedPrivateKey,
      iso(schedule.publishAt),
      iso(schedule.activateAt),
    ],
  );
}

/** Fixes when a key stops signing and when it leaves the JWKS. */
export async function scheduleRetirement(
  q: Queryable,
  kid: string,
  schedule: { retireAt: number; unpublishAt: number },
): Promise<void> {
  await q.query(
    "UPDATE signing_keys SET retire_at = $2::timestamptz, unpublish_at = $3::timestamptz WHERE kid = $1",
    [kid, iso(schedule.retireAt), iso(schedule.unpublishAt)],
  );
}

/** Deletes keys already withdrawn from the JWKS: they can neither sign nor verify again. */
export async function deleteWithdrawnKeys(q: Queryable, now: number): Promise<string[]> {
  const { rows } = await q.query<{ kid: string }>(
    "DELETE FROM signing_keys WHERE unpublish_at <= $1::timestamptz RETURNING kid",
    [iso(now)],
  );
  return rows.map((row) => row.kid);
}

/**
 * Retires every key not yet withdrawn and withdraws it from the JWKS at `now` (emergency
 * rotation); returns their kids.
 */
export async function withdrawKeysNow(q: Queryable, now: number): Promise<string[]> {
  const { rows } = await q.query<{ kid: string }>(
    `UPDATE signing_keys
        SET retire_at = LEAST(coalesce(retire_at, $1::timestamptz), $1::timestamptz),
            activate_at = LEAST(activate_at, $1::timestamptz),
            publish_at = LEAST(publish_at, $1::timestamptz),
            unpublish_at = $1::timestamptz
      WHERE unpublish_at IS NULL OR unpublish_at > $1::timestamptz
      RETURNING kid`,
    [iso(now)],
  );
  return rows.map((row) => row.kid).sort();
}
