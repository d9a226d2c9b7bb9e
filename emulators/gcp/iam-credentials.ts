/**
 * IAM Service Account Credentials `generateAccessToken`: a federated principal (or a service
 * account) holding `iam.serviceAccounts.getAccessToken` on the target service account receives
 * a short-lived access token for it.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { BodyTooLargeError, bearerToken, readSmallBody, sendJson } from "../shared/http.ts";
import { type CustomerModel, findServiceAccount, TOKEN_ROLES } from "./config.ts";
import type { FaultInjector } from "./faults.ts";
import { AUTH_TEXT, getAccessTokenDenied, rpcError } from "./google-errors.ts";
import { memberMatches } from "./principals.ts";
import type { TokenRegistry } from "./tokens.ts";

/** Scopes that let a token call IAM Credentials. */
const IAM_SCOPES = [
  "https://www.googleapis.com/auth/cloud-platform",
  "https://www.googleapis.com/auth/iam",
];

/** What the IAM Credentials handler needs. */
export interface IamCredentialsDeps {
  model: CustomerModel;
  tokens: TokenRegistry;
  faults: FaultInjector;
  now: () => number;
}

/** Matches the generateAccessToken path; captures project and service account. */
export const GENERATE_ACCESS_TOKEN_PATH =
  /^\/v1\/projects\/([^/]+)\/serviceAccounts\/([^/]+):generateAccessToken$/;

const invalidArgument = (fieldViolations?: { field: string; description: string }[]) =>
  rpcError(
    400,
    "INVALID_ARGUMENT",
    "Request contains an invalid argument.",
    fieldViolations
      ? [{ "@type": "type.googleapis.com/google.rpc.BadRequest", fieldViolations }]
      : undefined,
  );

const unauthenticated = (res: ServerResponse, message: string) =>
  sendJson(res, 401, rpcError(401, "UNAUTHENTICATED", message), {
    "www-authenticate": 'Bearer realm="https://accounts.google.com/"',
  });

/** Serves `POST /v1/projects/-/serviceAccounts/{email}:generateAccessToken`. */
export async function handleGenerateAccessToken(
  req: IncomingMessage,
  res: ServerResponse,
  path: RegExpExecArray,
  deps: IamCredentialsDeps,
): Promise<void> {
  let raw: Buffer;
  try {
    raw = await readSmallBody(req);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return sendJson(res, 413, invalidArgument());
    throw error;
  }
  const bearer = bearerToken(req);
  if (!bearer) return unauthenticated(res, AUTH_TEXT.missing);
  const lookup = deps.tokens.lookup(bearer);
  if (lookup.status !== "valid") return unauthenticated(res, AUTH_TEXT.invalid);
  const caller = lookup.token;
  if (!caller.scopes.some((scope) => IAM_SCOPES.includes(scope))) {
    return sendJson(
      res,
      403,
      rpcError(403, "PERMISSION_DENIED", AUTH_TEXT.insufficientScopes, [
        {
          "@type": "type.googleapis.com/google.rpc.ErrorInfo",
          reason: "ACCESS_TOKEN_SCOPE_INSUFFICIENT",
          domain: "googleapis.com",
          metadata: { service: "iamcredentials.googleapis.com", method: "GenerateAccessToken" },
        },
      ]),
    );
  }

  const project = decodeURIComponent(path[1]!);
  if (project !== "-") {
    return sendJson(
      res,
      400,
      invalidArgument([{ field: "name", description: "The project must be the - wildcard." }]),
    );
  }
  let body: { scope?: unknown; lifetime?: unknown; delegates?: unknown };
  try {
    body = JSON.parse(raw.toString("utf8") || "{}") as typeof body;
    if (typeof body !== "object" || body === null) throw new Error("not an object");
  } catch {
    return sendJson(res, 400, invalidArgument());
  }
  const scopes = body.scope;
  if (
    !Array.isArray(scopes) ||
    scopes.length === 0 ||
    !scopes.every((s) => typeof s === "string" && s !== "")
  ) {
    return sendJson(
      res,
      400,
      invalidArgument([{ field: "scope", description: "At least one scope is required." }]),
    );
  }
  let lifetimeSeconds = 3600;
  if (body.lifetime !== undefined) {
    const match =
      typeof body.lifetime === "string" ? /^([0-9]+)(\.[0-9]{1,9})?s$/.exec(body.lifetime) : null;
    if (!match)
      return sendJson(
        res,
        400,
        invalidArgument([{ field: "lifetime", description: "Invalid duration." }]),
      );
    lifetimeSeconds = Number(match[1]);
  }

  const account = findServiceAccount(deps.model, decodeURIComponent(path[2]!));
  const delegates = Array.isArray(body.delegates) ? body.delegates : [];
  // Delegation chains need token-creator rights on every hop; the model has no such hops, so
  // any delegate is denied exactly like a missing binding (Google does not reveal which).
  const allowed =
    account !== undefined &&
    !account.disabled &&
    delegates.length === 0 &&
    account.bindings.some(
      (binding) =>
        TOKEN_ROLES.includes(binding.role) &&
        binding.members.some((member) => memberMatches(member, caller.principal)),
    );
  if (!allowed) return sendJson(res, 403, getAccessTokenDenied());

  if (lifetimeSeconds < 1 || lifetimeSeconds > account.maxTokenLifetimeSeconds) {
    return sendJson(
      res,
      400,
      invalidArgument([
        {
          field: "lifetime",
          description: `The lifetime must be between 1s and ${account.maxTokenLifetimeSeconds}s.`,
        },
      ]),
    );
  }
  const issued = deps.tokens.issue(
    "ya29.c.emu_",
    { kind: "serviceAccount", email: account.email },
    scopes as string[],
    lifetimeSeconds * 1000,
    deps.faults.tokenLifetimeCapMs(),
  );
  sendJson(res, 200, {
    accessToken: issued.token,
    expireTime: new Date(issued.advertisedExpiresAtMs).toISOString().replace(/\.\d{3}Z$/, "Z"),
  });
}
