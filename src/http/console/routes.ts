/**
 * The console (docs/console.md): a single HTML page and its static ES modules and stylesheet,
 * served by the relay itself under a strict Content-Security-Policy (nothing inline, nothing from
 * elsewhere), and the session endpoints that exchange a key for an HttpOnly cookie.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import { z } from "zod";
import type { Db } from "../../db/index.ts";
import { AppError } from "../../errors/index.ts";
import type { Clock } from "../../lib/clock.ts";
import { authenticateApiKey, findWorkspace } from "../../workspaces/index.ts";
import {
  type ConsoleSession,
  checkCsrf,
  endSession,
  sessionToken,
  setSessionCookie,
  startSession,
} from "./sessions.ts";

/** What the console routes need. */
export interface ConsoleDeps {
  db: Db;
  operatorToken: string;
  clock: Clock;
}

const assetsDir = new URL("./assets/", import.meta.url);
const contentTypes: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".html": "text/html; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Every file of assets/, read once: the console is a handful of small files. */
function loadAssets(): Map<string, { body: Buffer; type: string; etag: string }> {
  const assets = new Map<string, { body: Buffer; type: string; etag: string }>();
  for (const name of readdirSync(assetsDir)) {
    const type = contentTypes[name.slice(name.lastIndexOf("."))];
    if (!type) continue;
    const body = readFileSync(new URL(name, assetsDir));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(name, { body, type, etag });
  }
  return assets;
}

const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

function securityHeaders(reply: FastifyReply): void {
  reply.header("content-security-policy", contentSecurityPolicy);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
  reply.header("x-frame-options", "DENY");
  reply.header("cross-origin-opener-policy", "same-origin");
}

/** The pages of the console (the shell renders each; unknown ones show "not found"). */
const pagePath = /^\/console\/([a-z-]+(\/[a-z0-9-]+)?)?$/;

const sessionBody = z.object({
  kind: z.enum(["workspace", "operator"]),
  workspace_id: z.string().nullable(),
  workspace_name: z.string().nullable(),
  csrf_token: z.string(),
  expires_at: z.string(),
});

async function showSession(db: Db, session: ConsoleSession) {
  const workspace =
    session.kind === "workspace" ? await findWorkspace(db, session.workspaceId) : undefined;
  return {
    kind: session.kind,
    workspace_id: session.kind === "workspace" ? session.workspaceId : null,
    workspace_name: workspace?.name ?? null,
    csrf_token: session.csrfToken,
    expires_at: session.expiresAt.toISOString(),
  };
}

/** Sign-in has no session yet: only a same-origin browser request (or a non-browser) may start one. */
function refuseCrossSite(request: FastifyRequest): void {
  const site = request.headers["sec-fetch-site"];
  if (site !== undefined && site !== "same-origin" && site !== "none") {
    throw new AppError("CSRF_REJECTED", `a ${site} request cannot sign in`);
  }
  const origin = request.headers.origin;
  if (origin !== undefined) {
    let host: string | undefined;
    try {
      host = new URL(origin).host;
    } catch {
      host = undefined;
    }
    if (host !== request.headers.host) {
      throw new AppError("CSRF_REJECTED", "the request's Origin is not this relay");
    }
  }
}

/** `/`, `/console/…` pages and assets, and `/console/session`. */
export function consoleRoutes(deps: ConsoleDeps) {
  const assets = loadAssets();
  const operatorDigest = createHash("sha256").update(deps.operatorToken).digest();
  const isOperatorToken = (value: string) =>
    timingSafeEqual(createHash("sha256").update(value).digest(), operatorDigest);

  return async function consoleRoutes(parent: FastifyInstance): Promise<void> {
    const app = parent.withTypeProvider<ZodTypeProvider>();

    app.get("/", { schema: { hide: true } }, async (_request, reply) =>
      reply.redirect("/console/", 302),
    );
    app.get("/console", { schema: { hide: true } }, async (_request, reply) =>
      reply.redirect("/console/", 302),
    );

    app.get(
      "/console/assets/:name",
      { schema: { hide: true, params: z.object({ name: z.string() }) } },
      async (request, reply) => {
        const asset = assets.get(request.params.name);
        if (!asset || asset.type.startsWith("text/html"))
          throw new AppError("NOT_FOUND", "no such console asset");
        securityHeaders(reply);
        reply.header("etag", asset.etag);
        reply.header("cache-control", "no-cache");
        if (request.headers["if-none-match"] === asset.etag) return reply.status(304).send();
        return reply.type(asset.type).send(asset.body);
      },
    );

    // Every page is the same shell; the page itself is drawn by app.js from the path. Without a
    // live session every page but sign-in sends the browser to sign in.
    app.get("/console/*", { schema: { hide: true } }, async (request, reply) => {
      const path = request.url.split("?")[0] ?? "";
      if (!pagePath.test(path)) throw new AppError("NOT_FOUND", "no such console page");
      const signIn = path === "/console/sign-in";
      if (!signIn && !request.consoleSession) {
        const next = path === "/console/" ? "" : `?next=${encodeURIComponent(path)}`;
        return reply.redirect(`/console/sign-in${next}`, 303);
      }
      const shell = assets.get("index.html");
      if (!shell) throw new AppError("NOT_FOUND", "the console is not installed");
      securityHeaders(reply);
      reply.header("cache-control", "no-store");
      return reply.type(shell.type).send(shell.body);
    });

    app.post(
      "/console/session",
      {
        schema: {
          tags: ["console"],
          summary: "Sign in to the console",
          description:
            "Exchanges a workspace API key or the operator token for an HttpOnly session cookie (8 h). The key is not stored.",
          body: z.object({
            credential: z.string().min(1, "enter an API key or the operator token"),
          }),
          response: { 200: sessionBody },
        },
      },
      async (request, reply) => {
        refuseCrossSite(request);
        const credential = request.body.credential.trim();
        let started: Awaited<ReturnType<typeof startSession>>;
        if (credential.startsWith("rrk_")) {
          const found = await authenticateApiKey(deps.db, credential);
          if (!found) throw new AppError("UNAUTHENTICATED", "this API key is not valid or revoked");
          started = await startSession(deps.db, deps.clock, {
            kind: "workspace",
            workspaceId: found.workspaceId,
            apiKeyId: found.keyId,
          });
        } else if (isOperatorToken(credential)) {
          started = await startSession(deps.db, deps.clock, { kind: "operator" });
        } else {
          throw new AppError(
            "UNAUTHENTICATED",
            "this is neither a valid API key nor the operator token",
          );
        }
        setSessionCookie(request, reply, started.token);
        reply.header("cache-control", "no-store");
        return showSession(deps.db, started.session);
      },
    );

    app.get(
      "/console/session",
      {
        schema: {
          tags: ["console"],
          summary: "The console session of the cookie",
          response: { 200: sessionBody },
        },
      },
      async (request, reply) => {
        const session = request.consoleSession;
        if (!session) throw new AppError("UNAUTHENTICATED", "not signed in, or the session ended");
        reply.header("cache-control", "no-store");
        return showSession(deps.db, session);
      },
    );

    app.delete(
      "/console/session",
      { schema: { tags: ["console"], summary: "Sign out: ends the console session" } },
      async (request, reply) => {
        const session = request.consoleSession;
        const token = sessionToken(request);
        if (session && token) {
          checkCsrf(request, session);
          await endSession(deps.db, deps.clock, token);
        }
        setSessionCookie(request, reply, undefined);
        return reply.status(204).send();
      },
    );
  };
}
