/**
 * Console sessions (docs/console.md, Sign-in). A workspace API key or the operator token is
 * exchanged once for a random 256-bit session token held only in an HttpOnly cookie; the table
 * keeps its SHA-256, the kind of caller, the key it came from and a CSRF token. The raw key is
 * never stored, in the browser or here.
 *
 * Server-side rows (rather than a sealed cookie) so that sign-out and key revocation end a
 * session at once, in every process sharing the database, even if the cookie value was copied.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import type { Clock } from "../../lib/clock.ts";

/** The cookie holding the session token. */
export const SESSION_COOKIE = "rr_console";
/** How long a session lasts from sign-in (no sliding renewal: a working day). */
export const SESSION_HOURS = 8;

/** Who a session signed in as. */
export interface ConsoleSession {
  kind: "workspace" | "operator";
  /** The workspace of a workspace session; the empty string for the operator. */
  workspaceId: string;
  csrfToken: string;
  expiresAt: Date;
}

const sha256 = (value: string): Buffer => createHash("sha256").update(value).digest();

/** Starts a session; answers the token to put in the cookie and the session. */
export async function startSession(
  db: Db,
  clock: Clock,
  who: { kind: "operator" } | { kind: "workspace"; workspaceId: string; apiKeyId: string },
): Promise<{ token: string; session: ConsoleSession }> {
  const token = randomBytes(32).toString("base64url");
  const csrfToken = randomBytes(24).toString("base64url");
  const expiresAt = new Date(clock.now() + SESSION_HOURS * 3_600_000);
  await db.query(
    `INSERT INTO console_sessions (token_sha256, kind, workspace_id, api_key_id, csrf_token, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6)`,
    [
      sha256(token),
      who.kind,
      who.kind === "workspace" ? who.workspaceId : null,
      who.kind === "workspace" ? who.apiKeyId : null,
      csrfToken,
      expiresAt,
    ],
  );
  // Expired rows are of no use to anyone; sign-ins keep the table small.
  await db.query("DELETE FROM console_sessions WHERE expires_at < $1", [
    new Date(clock.now() - 86_400_000),
  ]);
  return {
    token,
    session: {
      kind: who.kind,
      workspaceId: who.kind === "workspace" ? who.workspaceId : "",
      csrfToken,
      expiresAt,
    },
  };
}

/** The live session of a token: not ended, not expired, its API key not revoked. */
export async function findSession(
  db: Db,
  clock: Clock,
  token: string,
): Promise<ConsoleSession | undefined> {
  const { rows } = await db.query<{
    kind: "workspace" | "operator";
    workspace_id: string | null;
    csrf_token: string;
    expires_at: Date;
  }>(
    `SELECT s.kind, s.workspace_id, s.csrf_token, s.expires_at
     FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.api_key_id
     WHERE s.token_sha256 = $1 AND s.ended_at IS NULL AND s.expires_at > $2
       AND (s.kind = 'operator' OR (k.id IS NOT NULL AND k.revoked_at IS NULL))`,
    [sha256(token), new Date(clock.now())],
  );
  const row = rows[0];
  if (!row) return undefined;
  return {
    kind: row.kind,
    workspaceId: row.workspace_id ?? "",
    csrfToken: row.csrf_token,
    expiresAt: new Date(row.expires_at),
  };
}

/** Ends a session (sign-out); a token already ended or unknown is no error. */
export async function endSession(db: Db, clock: Clock, token: string): Promise<void> {
  await db.query(
    "UPDATE console_sessions SET ended_at = $2 WHERE token_sha256 = $1 AND ended_at IS NULL",
    [sha256(token), new Date(clock.now())],
  );
}

/** The session token of the request's cookie, if any. */
export function sessionToken(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const [name, ...rest] = part.trim().split("=");
    if (name === SESSION_COOKIE) {
      const value = rest.join("=");
      return /^[A-Za-z0-9_-]{43}$/.test(value) ? value : undefined;
    }
  }
  return undefined;
}

/** Is the request on https (directly, or as a proxy in front of the relay says)? */
function isHttps(request: FastifyRequest): boolean {
  return request.protocol === "https" || request.headers["x-forwarded-proto"] === "https";
}

/** Sets (or, with `token` undefined, clears) the session cookie. */
export function setSessionCookie(
  request: FastifyRequest,
  reply: FastifyReply,
  token: string | undefined,
): void {
  const parts = [
    `${SESSION_COOKIE}=${token ?? ""}`,
    "Path=/",
    "HttpOnly",
    "SameSite=Strict",
    `Max-Age=${token === undefined ? 0 : SESSION_HOURS * 3600}`,
  ];
  if (isHttps(request)) parts.push("Secure");
  reply.header("set-cookie", parts.join("; "));
}

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * CSRF check of a cookie-authenticated request that changes state: the browser must say it came
 * from this origin (`Sec-Fetch-Site`, and `Origin` when sent), and the request must carry the
 * session's token in `x-csrf-token` (a header no cross-site form or simple request can set).
 */
export function checkCsrf(request: FastifyRequest, session: ConsoleSession): void {
  if (safeMethods.has(request.method)) return;
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin") {
    throw new AppError("CSRF_REJECTED", `a ${site} request cannot change anything here`);
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== "null") {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== request.headers.host) {
      throw new AppError("CSRF_REJECTED", "the request's Origin is not this relay");
    }
  } else if (origin === "null") {
    throw new AppError("CSRF_REJECTED", "the request's Origin is not this relay");
  }
  const presented = request.headers["x-csrf-token"];
  if (
    typeof presented !== "string" ||
    presented.length !== session.csrfToken.length ||
    !timingSafeEqual(Buffer.from(presented), Buffer.from(session.csrfToken))
  ) {
    throw new AppError("CSRF_REJECTED", "the x-csrf-token header is missing or wrong");
  }
}

/**
 * An `onRequest` hook: a request with neither `Authorization` nor `x-api-key` but a live session
 * cookie is that session's caller (after the CSRF check). Callers with their own credential are
 * never looked at, so the API's authentication for them is unchanged.
 */
export function attachConsoleSession(db: Db, clock: Clock) {
  return async function attachConsoleSession(request: FastifyRequest): Promise<void> {
    if (request.headers.authorization !== undefined) return;
    if (request.headers["x-api-key"] !== undefined) return;
    const token = sessionToken(request);
    if (!token) return;
    const session = await findSession(db, clock, token);
    if (!session) return;
    if (!request.url.startsWith("/console/")) checkCsrf(request, session);
    request.consoleSession = session;
  };
}

declare module "fastify" {
  interface FastifyRequest {
    /** The console session the request's cookie belongs to, set by {@link attachConsoleSession}. */
    consoleSession?: ConsoleSession;
  }
}
