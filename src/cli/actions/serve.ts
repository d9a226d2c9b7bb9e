/** What `recording-relay serve` runs (loaded by its command's action, see commands/serve.ts). */
import { describeIssuer } from "../../runtime/issuer-url.ts";
import { masterKeyWarning } from "../../runtime/master-key.ts";
import { startServer } from "../../runtime/server.ts";
import { closeOnSignals } from "../../runtime/signals.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";

/** Starts the HTTP API (and the engine), prints what an operator needs; runs until a signal. */
export async function runServe(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const config = configFrom(io.env, options);
  const server = await startServer(config, { worker: options.worker !== false });
  // Before the lines that say it runs: a supervisor may signal as soon as it reads them.
  closeOnSignals(server, config.shutdownTimeoutMs, io.stderr);
  const { operatorToken } = server;
  if (operatorToken.generated) {
    io.stderr(
      [
        "",
        "  Generated the operator token (shown only this once; kept in " +
          operatorToken.path +
          "):",
        "",
        `    ${operatorToken.token}`,
        "",
        "  Send it as `Authorization: Bearer <token>` to manage workspaces and ingest recordings.",
        "",
      ].join("\n"),
    );
  } else if (operatorToken.path) {
    io.stderr(`operator token: kept in ${operatorToken.path}`);
  }
  if (server.masterKey.generated && server.masterKey.path) {
    io.stderr(masterKeyWarning(server.masterKey.path));
  }
  io.stderr(describeIssuer({ url: server.issuer.issuerUrl, derived: !config.issuerUrl }));
  io.stderr(
    `recording-relay listening on ${server.url} (database: ${server.db.kind}, staging: ${server.engine.staging.description}, worker: ${server.engine.worker ? "on" : "off"})`,
  );
  for (const finding of server.selfCheck) {
    io.stderr(`warning (${finding.code}, ${finding.check}): ${finding.message}`);
  }
}
