import swagger from "@fastify/swagger";
import Fastify, { type FastifyInstance } from "fastify";
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
} from "fastify-type-provider-zod";
import type { DestinationCheck } from "../conversations/index.ts";
import type { Db } from "../db/index.ts";
import type { AllowedNetworks, AllowedPorts, RelayTrust } from "../domain/index.ts";
import type { Ingest } from "../ingest/ingest.ts";
import { type Clock, systemClock } from "../lib/clock.ts";
import type { Issuer } from "../oidc/index.ts";
import type { StagingStore } from "../staging/index.ts";
import { consoleRoutes } from "./console/routes.ts";
import { attachConsoleSession } from "./console/sessions.ts";
import { frameworkErrors, installErrorHandling } from "./error-handler.ts";
import { refuseHostileInput } from "./input-guard.ts";
import { conversationRoutes, type DestinationVerifier } from "./routes/conversations.ts";
import { eventRoutes } from "./routes/events.ts";
import { healthRoutes, type SetupWarning } from "./routes/health.ts";
import { countRequests, type HttpMetrics, metricsRoutes } from "./routes/metrics.ts";
import { oidcRoutes } from "./routes/oidc.ts";
import { overviewRoutes } from "./routes/overview.ts";
import { recordingStorageRoutes } from "./routes/recording-storage.ts";
import { recordingListRoutes, recordingRoutes } from "./routes/recordings.ts";
import { signingKeyRoutes } from "./routes/signing-keys.ts";
import { tusRoutes } from "./routes/tus.ts";
import { webhookSecretRoutes } from "./routes/webhook-secret.ts";
import { workspaceRoutes } from "./routes/workspaces.ts";

/** What the HTTP app needs; `bin` builds it from the configuration. */
export interface AppDeps {
  db: Db;
  operatorToken: string;
  /** The OIDC issuer whose discovery document and JWKS the app serves. */
  issuer: Pick<
    Issuer,
    "issuerUrl" | "discovery" | "jwks" | "listKeys" | "rotate" | "emergencyRotate"
  >;
  /** Largest JSON body in bytes. */
  bodyLimitBytes: number;
  /** Pino options, `false` to log nothing (tests). */
  logger: boolean | { level: string; stream?: { write(line: string): void } };
  version: string;
  /** What customers trust (issuer, AWS account, ExternalId): fills setup guides, gates S3. */
  trust: RelayTrust;
  /** Key template of destinations without their own. */
  defaultKeyTemplate: string;
  /** Accept `http://` callback URLs (development only). */
  allowHttpCallbacks: boolean;
  /** Live check of a new conversation's destination (S3 AssumeRole, from the AWS adapter). */
  checkDestination?: DestinationCheck;
  /** The live diagnostic behind `POST /v2/recording-storage/verify` (from the adapters). */
  verifyDestination?: DestinationVerifier;
  /** Networks callbacks may reach despite the SSRF rules (operator setting; development only). */
  callbackAllowedNetworks?: AllowedNetworks;
  /** Ports callbacks may use beyond 443, 80 and 8443 (operator setting). */
  callbackAllowedPorts?: AllowedPorts;
  /** Seals webhook secrets at rest (the master key of the OIDC issuer). */
  masterKey: Uint8Array;
  /** How long a rotated-out webhook secret keeps signing, in milliseconds. */
  webhookSecretOverlapMs: number;
  /** Time source of secrets and resends; the system clock by default. */
  clock?: Clock;
  /** Checked by `/readyz` when present. */
  staging?: Pick<StagingStore, "check" | "description" | "read">;
  /** Recording ingest (staging, live uploads); absent: the recording routes are not served. */
  ingest?: Ingest;
  /** Tells the webhook sender an event just became due (a resend). */
  wakeWebhookSender?: () => void;
  /** The start-up self-check's findings, shown by `/readyz`. */
  setupWarnings?: () => readonly SetupWarning[];
  /** Serves `GET /metrics` and counts requests; absent: no metrics. */
  metrics?: HttpMetrics;
}

export type { HttpMetrics } from "./routes/metrics.ts";

/** Builds the Fastify app; it does not listen (tests use `inject()` or `listen({port: 0})`). */
export async function createApp(deps: AppDeps): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      deps.logger === false
        ? false
        : {
            ...(deps.logger === true ? {} : deps.logger),
            // Fastify logs no headers by default; this keeps it so if a serializer ever does.
            redact: ["req.headers.authorization", 'req.headers["x-api-key"]'],
          },
    bodyLimit: deps.bodyLimitBytes,
    // Behind a load balancer the same id ties the caller's report to our log line.
    requestIdHeader: "x-request-id",
    genReqId: () => crypto.randomUUID(),
    return503OnClosing: true,
    frameworkErrors,
  });
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  // Only JSON is parsed; anything else (text/plain included) is refused with 415.
  app.removeContentTypeParser("text/plain");
  // An empty JSON body is no body: endpoints without one (resend, rotate) or with only optional
  // fields (complete) accept it, and those that need one say which field is missing.
  const parseJson = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    if (body === "") done(null, undefined);
    else parseJson(request, String(body), done);
  });
  installErrorHandling(app);
  app.addHook("preValidation", refuseHostileInput);
  const clock = deps.clock ?? systemClock;
  // A console session cookie stands for its caller when no API credential is sent (CSRF-checked).
  app.addHook("onRequest", attachConsoleSession(deps.db, clock));
  app.addHook("onSend", async (request, reply) => {
    reply.header("x-request-id", request.id);
    // Answered before its body was read to the end (a refusal mid-body: 413, 409, 401…): the
    // rest of the body is still on the wire, so the connection cannot carry another request.
    // Closing it lets the producer see the answer at once and shutdown not wait for it.
    if (!request.raw.complete) reply.header("connection", "close");
  });

  await app.register(swagger, {
    openapi: {
      info: { title: "recording-relay", version: deps.version },
      components: {
        securitySchemes: {
          operatorToken: { type: "http", scheme: "bearer", description: "The operator token" },
          apiKey: {
            type: "apiKey",
            in: "header",
            name: "x-api-key",
            description: "A workspace API key",
          },
        },
      },
    },
    transform: jsonSchemaTransform,
    // Schemas with an id (RecordingStorage) go to components.schemas, where their $refs point.
    transformObject: jsonSchemaTransformObject,
  });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());

  if (deps.metrics) {
    app.addHook("onResponse", countRequests(deps.metrics));
    await app.register(metricsRoutes({ metrics: deps.metrics, operatorToken: deps.operatorToken }));
  }
  await app.register(healthRoutes(deps.db, deps.staging, deps.setupWarnings));
  await app.register(workspaceRoutes(deps));
  await app.register(conversationRoutes(deps));
  await app.register(recordingStorageRoutes(deps));
  await app.register(oidcRoutes(deps.issuer));
  await app.register(signingKeyRoutes(deps));
  await app.register(webhookSecretRoutes({ ...deps, clock }));
  await app.register(recordingListRoutes(deps));
  await app.register(overviewRoutes({ ...deps, clock }));
  await app.register(consoleRoutes({ ...deps, clock }));
  if (deps.ingest) {
    await app.register(
      recordingRoutes({
        ...deps,
        ingest: deps.ingest,
        clock,
      }),
    );
    await app.register(tusRoutes({ operatorToken: deps.operatorToken, ingest: deps.ingest }));
  }
  await app.register(
    eventRoutes({
      db: deps.db,
      operatorToken: deps.operatorToken,
      clock,
      ...(deps.wakeWebhookSender ? { wakeWebhookSender: deps.wakeWebhookSender } : {}),
    }),
  );
  return app;
}
