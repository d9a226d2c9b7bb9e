/** `recording-relay emulators`: all three clouds up, each with a customer that trusts the relay. */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { Agent } from "node:https";
import { after, describe, it } from "node:test";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { developmentEntry, killAllRelays, runRelay } from "./helpers/relay-process.ts";

after(() => killAllRelays());

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
    const { DEMO } = await import("../emulators/aws/index.ts");
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
