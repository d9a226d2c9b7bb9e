/**
 * The conformance kit (conformance/, docs/conformance.md) on the paths that need no cloud: with no
 * variables it explains what each provider misses and exits 0 without starting anything; with
 * wrong credentials it fails at the first step with the cloud's own error, cleans up and exits 1;
 * and the Terraform it applies is the setup guide's text, byte for byte.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer as createHttpServer, request as httpRequest, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Cleanups } from "../../conformance/cleanup.ts";
import { guideFromRelay, TerraformWorkspace, terraformFiles } from "../../conformance/terraform.ts";
import { generateLoopbackTls } from "../../emulators/azure/tls.ts";
import { loadConfig } from "../../src/config/index.ts";
import { generateSetup } from "../../src/providers/setup-guides.ts";
import { trustFrom } from "../../src/runtime/destinations.ts";
import { prepareRig, type RigEnvironment, startRigServer } from "../helpers/delivery-rig.ts";
import { freePort } from "../helpers/postgres-server.ts";

const cloudVariable = /^(AWS_|CONFORMANCE_|GOOGLE_|GCLOUD_|CLOUDSDK_|ARM_|AZURE_)/;

/** The environment of this process without any cloud or kit variable, plus `extra`. */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !cloudVariable.test(name)) env[name] = value;
  }
  // Shared credential files of the machine must not stand in for the wrong ones.
  env.AWS_SHARED_CREDENTIALS_FILE = "/nonexistent/credentials";
  env.AWS_CONFIG_FILE = "/nonexistent/config";
  return { ...env, ...extra };
}

function runKit(env: Record<string, string>, args: string[] = []) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn(process.execPath, ["conformance/main.ts", ...args], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk;
    });
    child.on("close", (code) => resolve({ code, output }));
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

describe("npm run conformance", () => {
  it("with no cloud variables, says what each provider misses and exits 0 without starting anything", async () => {
    const { code, output } = await runKit(cleanEnv());
    assert.equal(code, 0, output);
    assert.match(
      output,
      /AWS \(S3\): skipped, missing CONFORMANCE_AWS_REGION .*AWS_ACCESS_KEY_ID or AWS_PROFILE/,
    );
    assert.match(
      output,
      /GCP \(GCS\): skipped, missing CONFORMANCE_GCP_PROJECT_ID .*GOOGLE_APPLICATION_CREDENTIALS/,
    );
    assert.match(
      output,
      /Azure \(Blob\): skipped, missing CONFORMANCE_AZURE_SUBSCRIPTION_ID .*ARM_CLIENT_SECRET/,
    );
    assert.match(output, /No provider is configured: nothing was created/);
    assert.doesNotMatch(output, /relay on|cleanup:/);
  });

  it("--local, interrupted by Ctrl-C mid-journey, removes what it started and exits 130", async () => {
    const child = spawn(process.execPath, ["conformance/main.ts", "--local"], {
      env: cleanEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (chunk: Buffer) => {
        output += chunk;
        if (/\[s3\] deliver …/.test(output)) resolve();
      });
      child.on("close", () => resolve());
    });
    child.kill("SIGINT");
    const code = await exited;
    assert.equal(code, 130, output);
    assert.match(output, /SIGINT: stopping, then removing everything the kit created/);
    assert.match(output, /cleanup: removed the emulators/);
    const dataDir = /cleanup: removed relay data directory (\S+)/.exec(output)?.[1];
    assert.ok(dataDir, output);
    assert.equal(existsSync(dataDir), false);
    assert.match(output, /conformance: FAIL \(exit 130\)/);
  });

  it("refuses an unknown argument", async () => {
    const { code, output } = await runKit(cleanEnv(), ["--lcoal"]);
    assert.equal(code, 2);
    assert.match(output, /unknown argument/);
  });

  describe("with wrong AWS credentials", () => {
    const servers: Server[] = [];
    let dir: string;
    const stsRequests: string[] = [];
    let env: Record<string, string>;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "conformance-test-"));
      // AWS STS as it answers a key it does not know (the SDK's documented AWS_ENDPOINT_URL
      // points it here): the cloud's own error, without the network.
      const sts = createHttpServer((request, response) => {
        let body = "";
        request.on("data", (chunk) => {
          body += chunk;
        });
        request.on("end", () => {
          stsRequests.push(body);
          response
            .writeHead(403, { "content-type": "text/xml" })
            .end(
              `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error><RequestId>4b0e5c1d-0000-4000-8000-000000000000</RequestId></ErrorResponse>`,
            );
        });
      });
      servers.push(sts);
      const stsPort = await listen(sts);
      // The public issuer: https on loopback in front of the relay the kit starts, as a tunnel.
      const relayPort = await freePort();
      const tls = await generateLoopbackTls();
      const caFile = join(dir, "ca.pem");
      await writeFile(caFile, tls.caCertPem);
      const proxy = createHttpsServer(
        { cert: tls.serverCertPem, key: tls.serverKeyPem },
        (request, response) => {
          const upstream = httpRequest(
            {
              host: "127.0.0.1",
              port: relayPort,
              path: request.url,
              method: request.method,
              headers: request.headers,
            },
            (answer) => {
              response.writeHead(answer.statusCode ?? 502, answer.headers);
              answer.pipe(response);
            },
          );
          upstream.on("error", () => response.writeHead(502).end());
          request.pipe(upstream);
        },
      );
      servers.push(proxy);
      const proxyPort = await listen(proxy);
      env = cleanEnv({
        CONFORMANCE_AWS_REGION: "eu-west-1",
        AWS_ACCESS_KEY_ID: "AKIAWRONGWRONGWRONG0",
        AWS_SECRET_ACCESS_KEY: "wrong-secret-wrong-secret-wrong-secret-00",
        AWS_ENDPOINT_URL: `http://127.0.0.1:${stsPort}`,
        CONFORMANCE_ISSUER_URL: `https://127.0.0.1:${proxyPort}`,
        CONFORMANCE_RELAY_PORT: String(relayPort),
        NODE_EXTRA_CA_CERTS: caFile,
      });
    });

    after(async () => {
      for (const server of servers) {
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
      await rm(dir, { recursive: true, force: true });
    });

    it("checks the issuer, fails at the first step with AWS's error, cleans up and exits 1", async () => {
      const { code, output } = await runKit(env);
      assert.equal(code, 1, output);
      assert.match(
        output,
        /issuer check: https:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration reaches this relay/,
      );
      assert.match(
        output,
        /\[s3\] create customer: fail .*security token included in the request is invalid/,
      );
      assert.match(output, /\| s3 +\| create customer \| FAIL/);
      assert.match(output, /\| s3 +\| verify +\| SKIP/);
      assert.match(output, /\| s3 +\| destroy +\| PASS/);
      assert.ok(
        stsRequests.length > 0 && stsRequests.every((body) => body.includes("GetCallerIdentity")),
      );
      const dataDir = /cleanup: removed relay data directory (\S+)/.exec(output)?.[1];
      assert.ok(dataDir, output);
      assert.equal(existsSync(dataDir), false);
      assert.match(output, /conformance: FAIL \(exit 1\)/);
    });

    it("says so when the public issuer URL does not reach the relay, and exits 1", async () => {
      const { code, output } = await runKit({
        ...env,
        CONFORMANCE_ISSUER_URL: `https://127.0.0.1:${await freePort()}`,
      });
      assert.equal(code, 1, output);
      assert.match(
        output,
        /issuer check: could not fetch https:\/\/127\.0\.0\.1:\d+\/\.well-known\/openid-configuration .*the clouds cannot reach the relay's issuer/,
      );
      assert.doesNotMatch(output, /create customer/);
      assert.match(output, /cleanup: removed relay data directory/);
    });
  });
});

describe("the Terraform the conformance kit applies", () => {
  let rig: RigEnvironment;
  let relay: Awaited<ReturnType<typeof startRigServer>>;

  before(async () => {
    rig = await prepareRig("embedded", { RELAY_ISSUER_URL: "https://relay.example.com" });
    relay = await startRigServer(rig);
  });
  after(async () => {
    await relay?.close();
    await rig?.stop();
  });

  for (const provider of ["s3", "gcs", "azure_blob"] as const) {
    it(`is the ${provider} setup guide's text, unchanged`, async () => {
      const kitRelay = {
        call: async (method: string, path: string) => await relay.call(method, path),
      };
      const guide = await guideFromRelay(kitRelay, provider);
      const config = loadConfig({
        env: { ...rig.env, RELAY_ISSUER_URL: "https://relay.example.com" },
      });
      const expected = generateSetup(provider, {
        workspaceId: rig.workspace.id,
        trust: trustFrom(config),
        keyTemplate: config.defaultKeyTemplate,
        known: undefined,
      }).terraform;
      const cleanups = new Cleanups(() => {});
      try {
        const workspace = await TerraformWorkspace.create(
          terraformFiles(guide, { bucket_name: "b" }),
          cleanups,
          "nothing (not applied)",
          new AbortController().signal,
          () => {},
        );
        const written = await readFile(join(workspace.dir, "main.tf"), "utf8");
        assert.equal(written, expected);
        // The guide the relay serves carries its issuer (S3's assume_role guide names its account).
        if (provider !== "s3") assert.match(written, /https:\/\/relay\.example\.com/);
        assert.deepEqual(
          JSON.parse(await readFile(join(workspace.dir, "terraform.tfvars.json"), "utf8")),
          { bucket_name: "b" },
        );
      } finally {
        await cleanups.runAll();
      }
    });
  }
});
