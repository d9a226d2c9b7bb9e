/** `recording-relay emulators`: all three clouds up, each with a customer that trusts the relay. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmod, mkdir, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { Agent } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { parseEnv } from "node:util";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { developmentEntry, killAllRelays, runRelay } from "../helpers/relay-process.ts";

after(() => killAllRelays());

/** Waits until `relay` printed `text`. */
async function waitFor(relay: ReturnType<typeof runRelay>, text: string | RegExp, ms = 60_000) {
  const deadline = Date.now() + ms;
  const seen = () =>
    typeof text === "string" ? relay.output().includes(text) : text.test(relay.output());
  while (!seen()) {
    if (Date.now() > deadline) assert.fail(`no ${text} within ${ms} ms:\n${relay.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("recording-relay emulators", () => {
  it("starts the three clouds, prints endpoints and destinations, and stops on SIGTERM", async () => {
    const workspaceId = crypto.randomUUID();
    const relay = runRelay(
      ["emulators", "--workspace", workspaceId, "--issuer-url", "http://127.0.0.1:9"],
      {},
      developmentEntry,
    );
    const deadline = Date.now() + 30_000;
    while (!relay.output().includes("emulators running")) {
      if (Date.now() > deadline) assert.fail(`no emulators within 30 s:\n${relay.output()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const output = relay.output();
    const awsEndpoint = /AWS \(STS \+ S3, path-style\):\s+(\S+)/.exec(output)?.[1];
    const accessKeyId = /access key (\S+) \(emulator only\)/.exec(output)?.[1];
    const azureAuthority = /Azure \(Entra ID \+ Blob, HTTPS\):\s+(\S+)/.exec(output)?.[1];
    const caPath = /CA certificate (\S+)/.exec(output)?.[1];
    assert.ok(awsEndpoint && accessKeyId && azureAuthority && caPath, output);
    const destinations = output
      .split("recording_storage objects:")[1]!
      .split("\n")
      .filter((line) => line.startsWith("  {"))
      .map(
        (line) =>
          JSON.parse(line) as { provider: string; assume_role_arn?: string; tenant_id?: string },
      );
    assert.deepEqual(
      destinations.map((d) => d.provider),
      ["s3", "gcs", "azure_blob"],
    );

    // The AWS customer's role trusts the operator with the Workspace ID as ExternalId, and
    // nothing else: the emulated cloud really checks it.
    const { DEMO } = await import("../../emulators/aws/index.ts");
    const sts = new STSClient({
      region: "us-east-1",
      endpoint: awsEndpoint,
      credentials: { accessKeyId, secretAccessKey: DEMO.operatorSecretAccessKey },
    });
    const assume = (ExternalId: string) =>
      sts.send(
        new AssumeRoleCommand({
          RoleArn: destinations[0]!.assume_role_arn,
          RoleSessionName: "test",
          ExternalId,
          DurationSeconds: 43_200,
        }),
      );
    assert.ok((await assume(workspaceId)).Credentials?.SessionToken);
    await assert.rejects(assume(crypto.randomUUID()), { name: "AccessDenied" });

    // Azure answers over HTTPS with the CA it wrote out.
    const ca = await readFile(caPath, "utf8");
    const discovery = await new Promise<number>((resolve, reject) => {
      const url = new URL(
        `${destinations[2]!.tenant_id}/v2.0/.well-known/openid-configuration`,
        `${azureAuthority}/`,
      );
      import("node:https").then(({ get }) =>
        get(url, { agent: new Agent({ ca }) }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        }).on("error", reject),
      );
    });
    assert.equal(discovery, 200);

    relay.child.kill("SIGTERM");
    assert.equal((await relay.exited).code, 0);
  });

  it("prints the RELAY_* settings and the emulated AWS secret, writes them to a 0600 env file, and a relay started with `node --env-file` verifies all three destinations", async () => {
    const dir = await mkdtemp(join(tmpdir(), "relay-emulators-env-"));
    // Under root the embedded server runs as `postgres`, which must pass through to the data dir.
    await chmod(dir, 0o711);
    try {
      const dataDir = join(dir, "data");
      const cli = async (args: string[]) => {
        const run = runRelay([...args, "--data-dir", dataDir]);
        assert.equal((await run.exited).code, 0, run.output());
        return JSON.parse(run.output().trim().split("\n").at(-1)!);
      };
      const { workspace_id: workspaceId } = await cli(["workspace", "create", "--name", "Env"]);
      const { api_key: apiKey } = await cli(["api-key", "create", "--workspace", workspaceId]);

      const port = await freePort();
      const issuerUrl = `http://127.0.0.1:${port}`;
      // A file that does not exist yet (Node itself would refuse `--env-file <new path>`).
      const envFile = join(dir, "settings", "relay.env");
      await mkdir(dirname(envFile));
      const emulators = runRelay(
        [
          "emulators",
          "--workspace",
          workspaceId,
          "--issuer-url",
          issuerUrl,
          "--write-env-file",
          envFile,
        ],
        {},
        developmentEntry,
      );
      await waitFor(emulators, "emulators running");
      const output = emulators.output();
      assert.ok(output.includes(envFile), output);
      assert.equal((await stat(envFile)).mode & 0o777, 0o600);
      const env = parseEnv(await readFile(envFile, "utf8")) as Record<string, string>;
      const { DEMO } = await import("../../emulators/aws/index.ts");
      assert.equal(env.AWS_SECRET_ACCESS_KEY, DEMO.operatorSecretAccessKey);
      assert.equal(env.AWS_ACCESS_KEY_ID, DEMO.operatorAccessKeyId);
      assert.equal(env.RELAY_AWS_ACCOUNT_ID, DEMO.operatorAccountId);
      assert.equal(env.RELAY_ISSUER_URL, issuerUrl);
      assert.equal(env.RELAY_PORT, String(port));
      for (const name of [
        "RELAY_AWS_ENDPOINT_URL",
        "RELAY_GCP_STS_URL",
        "RELAY_GCP_IAM_CREDENTIALS_URL",
        "RELAY_GCS_URL",
        "RELAY_AZURE_AUTHORITY_HOST",
        "RELAY_AZURE_BLOB_ENDPOINT_TEMPLATE",
        "RELAY_EXTRA_CA_FILE",
      ]) {
        assert.ok(env[name], `${name} in the env file`);
      }
      // Every line of the file is printed too.
      for (const [name, value] of Object.entries(env)) {
        assert.ok(output.includes(`${name}=${value}`), `${name} printed:\n${output}`);
      }
      assert.match(output, /node --env-file/);

      const destinations = output
        .split("recording_storage objects:")[1]!
        .split("\n")
        .filter((line) => line.startsWith("  {"))
        .map((line) => JSON.parse(line) as { provider: string });

      // A relay loading only that file (and its data directory) delivers to the emulators.
      const relay = spawn(
        process.execPath,
        [
          `--env-file=${envFile}`,
          join(import.meta.dirname, "../../src/bin/recording-relay.js"),
          "serve",
          "--data-dir",
          dataDir,
          "--log-level",
          "warn",
        ],
        { env: { PATH: process.env.PATH ?? "" }, stdio: ["ignore", "pipe", "pipe"] },
      );
      let relayOutput = "";
      relay.stdout.on("data", (chunk) => (relayOutput += chunk));
      relay.stderr.on("data", (chunk) => (relayOutput += chunk));
      try {
        const deadline = Date.now() + 90_000;
        while (!relayOutput.includes(`listening on http://127.0.0.1:${port}`)) {
          if (Date.now() > deadline || relay.exitCode !== null) assert.fail(relayOutput);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        for (const destination of destinations) {
          const answer = await fetch(`${issuerUrl}/v2/recording-storage/verify`, {
            method: "POST",
            headers: { "x-api-key": apiKey, "content-type": "application/json" },
            body: JSON.stringify(destination),
          });
          const report = (await answer.json()) as { ok: boolean };
          assert.equal(answer.status, 200, JSON.stringify(report));
          assert.equal(report.ok, true, `${destination.provider}: ${JSON.stringify(report)}`);
        }
      } finally {
        // A relay that already exited (a failed start) emits no second exit to wait for.
        if (relay.exitCode === null && relay.signalCode === null) {
          const exited = new Promise((resolve) => relay.once("exit", resolve));
          relay.kill("SIGTERM");
          await exited;
        }
      }
      emulators.child.kill("SIGTERM");
      assert.equal((await emulators.exited).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("defaults --issuer-url to the issuer `serve` derives on its default port, and the env file to <tmp>/recording-relay-emulators.env", async () => {
    const help = runRelay(["emulators", "--help"], {}, developmentEntry);
    await help.exited;
    assert.match(
      help.output(),
      /--issuer-url <url>[\s\S]*serve[\s\S]*\(default:\s+"http:\/\/localhost:8080"\)/,
    );
    assert.match(help.output(), /--write-env-file <path>/);

    const dir = await mkdtemp(join(tmpdir(), "relay-emulators-default-"));
    try {
      const emulators = runRelay(["emulators"], { TMPDIR: dir }, developmentEntry);
      await waitFor(emulators, "emulators running");
      const envFile = join(dir, "recording-relay-emulators.env");
      assert.ok(emulators.output().includes(envFile), emulators.output());
      const env = parseEnv(await readFile(envFile, "utf8")) as Record<string, string>;
      assert.equal(env.RELAY_ISSUER_URL, "http://localhost:8080");
      assert.equal(env.RELAY_PORT, "8080");
      assert.match(
        emulators.output(),
        /serve derives on its default port \(RELAY_ISSUER_URL unset, port 8080\)/,
      );
      emulators.child.kill("SIGTERM");
      assert.equal((await emulators.exited).code, 0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("refuses a malformed workspace id or issuer URL", async () => {
    const badWorkspace = runRelay(["emulators", "--workspace", "acme"], {}, developmentEntry);
    assert.equal((await badWorkspace.exited).code, 1);
    assert.match(badWorkspace.output(), /--workspace must be a workspace id/);
    const badIssuer = runRelay(
      ["emulators", "--issuer-url", "https://relay.example.com/"],
      {},
      developmentEntry,
    );
    assert.equal((await badIssuer.exited).code, 1);
    assert.match(badIssuer.output(), /--issuer-url must not end with a slash/);
  });

  it("is a development command: the packaged executable says where to run it", async () => {
    for (const command of ["emulators", "demo"]) {
      const relay = runRelay([command]);
      assert.equal((await relay.exited).code, 1);
      assert.match(relay.output(), new RegExp(`\`${command}\` runs from a development checkout`));
      assert.match(relay.output(), new RegExp(`npm run ${command}`));
    }
  });
});
