/**
 * Workspace API keys: `rrk_<id>_<secret>`. The id finds the row; only the SHA-256 of the whole key
 * is stored, and it is compared in constant time. A plain hash (not a slow password hash) is right
 * here because the key carries 256 bits of randomness: there is nothing to brute-force.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Queryable } from "../db/index.ts";

/** A newly created key: `key` is shown once and cannot be recovered. */
export interface CreatedApiKey {
  id: string;
  workspaceId: string;
  key: string;
  createdAt: Date;
}

const keyShape = /^rrk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

const sha256 = (value: string): Buffer => createHash("sha256").update(value).digest();

/** Creates a key for a workspace (which must exist). */
export async function createApiKey(db: Queryable, workspaceId: string): Promise<CreatedApiKey> {
  const id = randomBytes(8).toString("hex");
  const key = `rrk_${id}_${randomBytes(32).toString("base64url")}`;
  const { rows } = await db.query<{ created_at: Date }>(
    "INSERT INTO api_keys (id, workspace_id, key_sha256) VALUES ($1, $2, $3) RETURNING created_at",
    [id, workspaceId, sha256(key)],
  );
  return { id, workspaceId, key, createdAt: rows[0]!.created_at };
}

/** The workspace a presented key belongs to, or `undefined` for a malformed, unknown or revoked key. */
export async function authenticateApiKey(
  db: Queryable,
  presented: string,
): Promise<{ workspaceId: string; keyId: string } | undefined> {
  const match = keyShape.exec(presented);
  if (!match) return undefined;
  const { rows } = await db.query<{ workspace_id: string; key_sha256: Uint8Array }>(
    "SELECT workspace_id, key_sha256 FROM api_keys WHERE id = $1 AND revoked_at IS NULL",
    [match[1]],
  );
  const row = rows[0];
  if (!row) return undefined;
  return timingSafeEqual(sha256(presented), row.key_sha256)
    ? { workspaceId: row.workspace_id, keyId: match[1]! }
    : undefined;
}
