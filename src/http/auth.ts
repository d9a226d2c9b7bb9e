/**
 * The two kinds of caller (docs/api.md, Authentication): the operator, with
 * `Authorization: Bearer <token>`, and a workspace, with `x-api-key`. Both checks compare digests
 * in constant time. A request with neither header may carry a console session cookie instead
 * (src/http/console/sessions.ts, already checked against CSRF): it stands for the caller who
 * signed in.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import type { Db } from "../db/index.ts";
import { AppError } from "../errors/index.ts";
import { authenticateApiKey } from "../workspaces/index.ts";

const digest = (value: string): Buffer => createHash("sha256").update(value).digest();

/** A pre-handler admitting only the operator. */
export function requireOperator(operatorToken: string) {
  const expected = digest(operatorToken);
  return async function requireOperator(request: FastifyRequest): Promise<void> {
    if (request.headers.authorization === undefined && request.consoleSession?.kind === "operator")
      return;
    const header = request.headers.authorization ?? "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) {
      throw new AppError(
        "UNAUTHENTICATED",
        "this endpoint needs the operator token: Authorization: Bearer <token>",
      );
    }
    if (!timingSafeEqual(digest(match[1]!), expected)) {
      throw new AppError("UNAUTHENTICATED", "the operator token is not valid");
    }
  };
}

/** A pre-handler admitting a workspace API key; the workspace is then `request.workspaceId`. */
export function requireWorkspace(db: Db) {
  return async function requireWorkspace(request: FastifyRequest): Promise<void> {
    const presented = request.headers["x-api-key"];
    const session = request.consoleSession;
    if (presented === undefined && session?.kind === "workspace") {
      request.workspaceId = session.workspaceId;
      return;
    }
    if (typeof presented !== "string" || presented === "") {
      throw new AppError(
        "UNAUTHENTICATED",
        "this endpoint needs a workspace API key in the x-api-key header",
      );
    }
    const found = await authenticateApiKey(db, presented);
    if (!found)
      throw new AppError("UNAUTHENTICATED", "the API key is not valid or has been revoked");
    request.workspaceId = found.workspaceId;
  };
}

declare module "fastify" {
  interface FastifyRequest {
    /** The authenticated workspace, set by {@link requireWorkspace}. */
    workspaceId: string;
  }
}

/**
 * A pre-handler admitting the operator (`Authorization: Bearer`) or a workspace (`x-api-key`).
 * The operator sees every workspace: `request.workspaceId` is then the empty string.
 */
export function requireWorkspaceOrOperator(db: Db, operatorToken: string) {
  const operator = requireOperator(operatorToken);
  const workspace = requireWorkspace(db);
  return async function requireWorkspaceOrOperator(request: FastifyRequest): Promise<void> {
    const session = request.consoleSession;
    const signedInOperator =
      session?.kind === "operator" && request.headers["x-api-key"] === undefined;
    if (request.headers.authorization !== undefined || signedInOperator) {
      await operator(request);
      request.workspaceId = "";
      return;
    }
    await workspace(request);
  };
}
