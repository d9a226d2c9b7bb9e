/**
 * Each workspace's webhook signing secrets, sealed under the master key (they are the relay's own
 * secrets, needed in plaintext to sign). One is current; a rotation keeps the previous one signing
 * for an overlap so receivers can switch without losing events. Only that one previous secret: a
 * new rotation ends any older overlap, so a webhook never carries more than two signatures (before,
 * every rotation of the last day kept signing and headers grew until receivers answered 431).
 *
 * A workspace's first secret is made by its first `POST /v2/webhook-secret/rotate` (which shows
 * it), or — if an event must be signed before that — lazily by the sender, never shown; the
 * customer then rotates to obtain one, and the overlap keeps every event verifiable meanwhile.
 */
import { randomUUID } from "node:crypto";
import type { Db, Queryable } from "../db/index.ts";
import { AppError } from "../errors/index.ts";
import { openSecret, sealSecret } from "../lib/sealing.ts";
import { generateWebhookSecret } from "./signing.ts";

/** Binds a sealed secret to its row and workspace. */
const context = (id: string, workspaceId: string) =>
  `recording-relay webhook secret ${id} of workspace ${workspaceId}`;

/** A secret's public facts (never the secret). */
export interface SecretInfo {
  id: string;
  createdAt: Date;
  /** `null` while current. */
  expiresAt: Date | null;
}

interface SecretRow {
  id: string;
  workspace_id: string;
  secret_encrypted: Uint8Array;
  created_at: Date;
  expires_at: Date | null;
}

async function insertSecret(
  db: Queryable,
  workspaceId: string,
  masterKey: Uint8Array,
  nowMs: number,
  onConflict: "fail" | "ignore",
): Promise<{ id: string; secret: string; inserted: boolean }> {
  const id = randomUUID();
  const secret = generateWebhookSecret();
  const { rowCount } = await db.query(
    `INSERT INTO webhook_secrets (id, workspace_id, secret_encrypted, created_at)
     VALUES ($1, $2, $3, $4)
     ${onConflict === "ignore" ? "ON CONFLICT (workspace_id) WHERE expires_at IS NULL DO NOTHING" : ""}`,
    [id, workspaceId, sealSecret(masterKey, context(id, workspaceId), secret), new Date(nowMs)],
  );
  return { id, secret, inserted: rowCount === 1 };
}

/** Result of a rotation: the new secret, shown only this once. */
export interface RotatedSecret {
  secret: string;
  createdAt: Date;
  /** Until when the previous secret still signs; `null` when there was none. */
  previousExpiresAt: Date | null;
}

/** Secrets a workspace may make per {@link ROTATION_WINDOW_MS} (rotations, and the lazy first). */
export const MAX_SECRETS_PER_WINDOW = 10;
/** The window of {@link MAX_SECRETS_PER_WINDOW}. */
export const ROTATION_WINDOW_MS = 3_600_000;

/**
 * Makes a new current secret; the previous one keeps signing for `overlapMs`, and any secret
 * still in an older overlap stops signing now. Refuses with `RATE_LIMITED` past
 * {@link MAX_SECRETS_PER_WINDOW} secrets in the window.
 */
export async function rotateWebhookSecret(
  db: Db,
  options: { workspaceId: string; masterKey: Uint8Array; nowMs: number; overlapMs: number },
): Promise<RotatedSecret> {
  const { workspaceId, masterKey, nowMs, overlapMs } = options;
  return await db.transaction(async (tx) => {
    // Serialises concurrent rotations of one workspace: each retires exactly one current secret.
    await tx.query("SELECT id FROM workspaces WHERE id = $1 FOR UPDATE", [workspaceId]);
    const windowStart = new Date(nowMs - ROTATION_WINDOW_MS);
    const recent = await tx.query<{ created_at: Date }>(
      `SELECT created_at FROM webhook_secrets WHERE workspace_id = $1 AND created_at > $2
       ORDER BY created_at`,
      [workspaceId, windowStart],
    );
    if (recent.rows.length >= MAX_SECRETS_PER_WINDOW) {
      const oldest = recent.rows[0]!.created_at.getTime();
      const retryAfterSeconds = Math.max(
        1,
        Math.ceil((oldest + ROTATION_WINDOW_MS - nowMs) / 1000),
      );
      throw new AppError(
        "RATE_LIMITED",
        `this workspace made ${recent.rows.length} webhook secrets in the last hour (at most ${MAX_SECRETS_PER_WINDOW}): rotate again in ${retryAfterSeconds} s`,
        { details: { retry_after_seconds: retryAfterSeconds } },
      );
    }
    // The secret that was previous until now stops signing: at most two sign at any time.
    await tx.query(
      `UPDATE webhook_secrets SET expires_at = $2
       WHERE workspace_id = $1 AND expires_at IS NOT NULL AND expires_at > $2`,
      [workspaceId, new Date(nowMs)],
    );
    const expiresAt = new Date(nowMs + overlapMs);
    const retired = await tx.query(
      `UPDATE webhook_secrets SET expires_at = $2
       WHERE workspace_id = $1 AND expires_at IS NULL`,
      [workspaceId, expiresAt],
    );
    const created = await insertSecret(tx, workspaceId, masterKey, nowMs, "fail");
    return {
      secret: created.secret,
      createdAt: new Date(nowMs),
      previousExpiresAt: retired.rowCount > 0 ? expiresAt : null,
    };
  });
}

/**
 * The secrets that sign now, current first (then those in their overlap). A workspace without
 * any gets one, unseen, so its events are still signed (see the module comment).
 */
export async function signingSecrets(
  db: Queryable,
  options: { workspaceId: string; masterKey: Uint8Array; nowMs: number },
): Promise<string[]> {
  const { workspaceId, masterKey, nowMs } = options;
  const select = () =>
    db.query<SecretRow>(
      `SELECT id, workspace_id, secret_encrypted, created_at, expires_at FROM webhook_secrets
       WHERE workspace_id = $1 AND (expires_at IS NULL OR expires_at > $2)
       ORDER BY expires_at IS NULL DESC, created_at DESC`,
      [workspaceId, new Date(nowMs)],
    );
  let { rows } = await select();
  if (!rows.some((row) => row.expires_at === null)) {
    await insertSecret(db, workspaceId, masterKey, nowMs, "ignore");
    ({ rows } = await select());
  }
  return openSigningSecrets(
    masterKey,
    workspaceId,
    rows.map((row) => ({ id: row.id, sealed: row.secret_encrypted })),
  );
}

/** Secrets already opened, per master key (the sender signs every event with them). */
const openedSecrets = new WeakMap<Uint8Array, Map<string, string>>();
const MAX_OPENED_SECRETS = 1_000;

/**
 * The secrets of a workspace that sign now, as a claim of due events read them with the events
 * (`claimDueEvents`: current first, then those in their overlap), opened with the master key.
 */
export function openSigningSecrets(
  masterKey: Uint8Array,
  workspaceId: string,
  sealed: readonly { id: string; sealed: Uint8Array }[],
): string[] {
  let opened = openedSecrets.get(masterKey);
  if (!opened) {
    opened = new Map();
    openedSecrets.set(masterKey, opened);
  }
  return sealed.map((row) => {
    // A row's sealed bytes never change: the same row opens to the same secret.
    const key = `${workspaceId}\n${row.id}\n${Buffer.from(row.sealed).toString("base64")}`;
    const known = opened.get(key);
    if (known !== undefined) return known;
    const secret = openSecret(masterKey, context(row.id, workspaceId), row.sealed);
    if (secret !== undefined) {
      if (opened.size >= MAX_OPENED_SECRETS) opened.clear();
      opened.set(key, secret);
    }
    if (secret === undefined) {
      throw new AppError(
        "MASTER_KEY_MISMATCH",
        `the master key does not decrypt webhook secret ${row.id} of workspace ${workspaceId}: start with the master key it was created with, or rotate the workspace's webhook secret`,
      );
    }
    return secret;
  });
}

/** The public facts of a workspace's secrets that still sign, current first. */
export async function listWebhookSecrets(
  db: Queryable,
  workspaceId: string,
  nowMs: number,
): Promise<SecretInfo[]> {
  const { rows } = await db.query<Omit<SecretRow, "secret_encrypted" | "workspace_id">>(
    `SELECT id, created_at, expires_at FROM webhook_secrets
     WHERE workspace_id = $1 AND (expires_at IS NULL OR expires_at > $2)
     ORDER BY expires_at IS NULL DESC, created_at DESC`,
    [workspaceId, new Date(nowMs)],
  );
  return rows.map((row) => ({ id: row.id, createdAt: row.created_at, expiresAt: row.expires_at }));
}
