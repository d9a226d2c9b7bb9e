/**
 * `recording-relay emulators`, a development command (emulators/dev/cli.ts): src/ never loads
 * emulators/, so a deployment's executable does not contain them.
 */
import { chmod, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import type { CliIo } from "../../src/cli/io.ts";
import { settings } from "../../src/config/index.ts";
import { isUuid } from "../../src/domain/ids.ts";
import { AppError } from "../../src/errors/index.ts";
import { DEMO as AWS_DEMO } from "../aws/index.ts";
import { startEmulators } from "../main.ts";

/** The Workspace ID the emulated customers trust unless `--workspace` says otherwise. */
export const DEMO_WORKSPACE_ID = "00000000-0000-4000-8000-000000000001";

/** What `serve` uses when RELAY_ISSUER_URL is unset and the port is the default (8080). */
const SERVE_DEFAULT_ISSUER = `http://localhost:${settings.port.default}`;

/**
 * Everything a relay needs to use the emulators: their endpoints and CA, the operator's emulated
 * AWS key, the issuer the customers trust, and (for a loopback http issuer with a port) the port
 * a relay must listen on to serve that issuer.
 */
function relaySettingsFor(
  issuerUrl: string,
  emulatorEnv: Record<string, string>,
): Record<string, string> {
  const issuer = new URL(issuerUrl);
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(issuer.hostname);
  return {
    RELAY_ISSUER_URL: issuerUrl,
    ...(issuer.protocol === "http:" && loopback && issuer.port !== ""
      ? { RELAY_PORT: issuer.port }
      : {}),
    ...emulatorEnv,
  };
}

/** `NAME=value` lines Node's `--env-file` and POSIX `.` both read (quoted only when needed). */
function envFileLines(env: Record<string, string>): string[] {
  return Object.entries(env).map(([name, value]) =>
    /^[\w@%+=:,./{}-]*$/.test(value)
      ? `${name}=${value}`
      : `${name}="${value.replace(/["\\$`]/g, "\\$&")}"`,
  );
}

/** Builds the `emulators` command. */
export function emulatorsCommand(io: CliIo, waitForSignal: () => Promise<unknown>): Command {
  return (
    new Command("emulators")
      .description(
        "Run local stand-ins for AWS STS+S3, GCP STS+IAM Credentials+GCS and Entra ID+Blob, each with one customer ready to trust the relay; print the settings a relay needs and write them to an env file",
      )
      .option(
        "--issuer-url <url>",
        `the relay issuer the emulated customers trust; the default is what \`serve\` uses with RELAY_ISSUER_URL unset on its default port ${settings.port.default}`,
        SERVE_DEFAULT_ISSUER,
      )
      .option(
        "--workspace <id>",
        "the Workspace ID the emulated customers trust (use a workspace of your relay)",
        DEMO_WORKSPACE_ID,
      )
      // Not `--env-file`: Node takes any argument starting with that for its own option, even after
      // the script name, and exits when the file does not exist yet (nodejs/node#54232).
      .option(
        "--write-env-file <path>",
        "where to write the relay's settings (mode 0600) for `node --env-file`; default <tmp>/recording-relay-emulators.env",
      )
      .action(async (options: { issuerUrl: string; workspace: string; writeEnvFile?: string }) => {
        const issuer = settings.issuerUrl.schema.safeParse(options.issuerUrl);
        if (!issuer.success) {
          throw new AppError(
            "VALIDATION_FAILED",
            `--issuer-url ${issuer.error.issues[0]?.message}`,
          );
        }
        if (!isUuid(options.workspace)) {
          throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
        }
        const envFile = options.writeEnvFile ?? join(tmpdir(), "recording-relay-emulators.env");
        const running = await startEmulators({
          issuerUrl: issuer.data,
          workspaceId: options.workspace,
        });
        try {
          const lines = envFileLines(relaySettingsFor(issuer.data, running.relayEnv()));
          await writeFile(
            envFile,
            [
              `# recording-relay settings for the emulators (issuer ${issuer.data}, workspace ${options.workspace}).`,
              "# Valid while `recording-relay emulators` runs: its ports change on every start.",
              ...lines,
              `# S3 without AWS keys: RELAY_AWS_AUTH_MODE=web_identity, assume_role_arn ${AWS_DEMO.webIdentityRoleArn}`,
              "",
            ].join("\n"),
            { mode: 0o600 },
          );
          await chmod(envFile, 0o600); // an existing file keeps its mode through writeFile
          io.stdout(running.describe());
          io.stdout(
            [
              "",
              `Settings for a relay (the AWS key and secret are the emulator's, not real), written to ${envFile} (mode 0600):`,
              ...lines.map((line) => `  ${line}`),
              "",
              "Start a relay with them:",
              `  npx node --env-file=${envFile} src/bin/recording-relay.js serve`,
              `  (or: set -a; . ${envFile}; set +a; npm start)`,
              issuer.data === SERVE_DEFAULT_ISSUER
                ? `The issuer is the one serve derives on its default port (RELAY_ISSUER_URL unset, port ${settings.port.default}).`
                : `The relay must serve ${issuer.data}: the settings above say so.`,
              `The customers trust workspace ${options.workspace}${options.workspace === DEMO_WORKSPACE_ID ? " (the default: pass --workspace <id> of a workspace of your relay)" : ""}.`,
            ].join("\n"),
          );
        } catch (error) {
          await running.stop();
          throw error;
        }
        io.stderr("emulators running; Ctrl-C stops them");
        await waitForSignal();
        await running.stop();
      })
  );
}
