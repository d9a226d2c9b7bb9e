/** The `recording-relay` executable end to end: real processes, real databases, real HTTP. */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createServerDatabase } from "../helpers/databases.ts";
import { killAllRelays, runRelay, startRelay } from "../helpers/relay-process.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-cli-"));
  // Under root the embedded server runs as `postgres`, which must pass through to the data dirs.
  await chmod(dir, 0o711);
});
after(async () => {
  // A failed assertion must not leave a server running and the test process waiting on it.
  killAllRelays();
  await rm(dir, { recursive: true, force: true });
});

describe("serve on the embedded default", () => {
  // How fast it gets there is measured by `bench/startup.ts`, not asserted here.
  it("answers /healthz, and a restart keeps the operator token and the workspaces", async () => {
    const dataDir = join(dir, "embedded");
    const first = await startRelay(["--data-dir", dataDir]);
    const health = await fetch(`${first.url}/healthz`);
    assert.equal(health.status, 200);
    // No issuer configured: it is derived from the address served, and said so at start.
    const port = new URL(first.url).port;
    const discovery = (await (
      await fetch(`${first.url}/.well-known/openid-configuration`)
    ).json()) as { issuer: string; jwks_uri: string };
    assert.equal(discovery.issuer, `http://localhost:${port}`);
    assert.equal(discovery.jwks_uri.startsWith(`http://localhost:${port}/`), true);
    assert.match(
      first.output(),
      /OIDC issuer: http:\/\/localhost:\d+ \(derived from the listen address/,
    );

    // The generated token is printed once and kept, readable only by its owner.
    const token = (await readFile(join(dataDir, "operator-token"), "utf8")).trim();
    assert.ok(first.output().includes(token), "first start prints the generated token");
    assert.equal((await stat(join(dataDir, "operator-token"))).mode & 0o777, 0o600);
    const created = await fetch(`${first.url}/v2/workspaces`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Persisted Inc" }),
    });
    assert.equal(created.status, 201);
    const { workspace_id } = (await created.json()) as { workspace_id: string };

    // A second process on the same data directory is refused while the first runs.
    const intruder = runRelay(["serve", "--port", "0", "--data-dir", dataDir]);
    assert.equal((await intruder.exited).code, 1);
    assert.match(intruder.output(), /in use by process/);

    // Its PostgreSQL server is its child, and leaves with it.
    const firstServer = postmasterPid(dataDir);
    assert.equal(await first.stop(), 0, "SIGTERM shuts down cleanly");
    assert.equal(isRunning(firstServer), false, "SIGTERM stops the embedded server too");

    // Killed without a chance to stop its server, the relay leaves it running; the next start
    // on the data directory stops it and starts its own.
    const killed = await startRelay(["--data-dir", dataDir]);
    const orphan = postmasterPid(dataDir);
    killed.child.kill("SIGKILL");
    await killed.exited;
    assert.ok(isRunning(orphan), "a SIGKILLed relay's server outlives it");

    const second = await startRelay(["--data-dir", dataDir]);
    try {
      assert.equal(isRunning(orphan), false, "the next start stopped the leftover server");
      assert.ok(!second.output().includes(token), "a restart does not print the token again");
      const list = await fetch(`${second.url}/v2/workspaces`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(list.status, 200);
      const { data } = (await list.json()) as { data: { workspace_id: string }[] };
      assert.deepEqual(
        data.map((w) => w.workspace_id),
        [workspace_id],
      );
    } finally {
      assert.equal(await second.stop(), 0);
    }
  });

  it("creates workspaces and API keys from the CLI, printing JSON", async () => {
    const dataDir = join(dir, "cli");
    const workspace = runRelay(["workspace", "create", "--name", "Acme", "--data-dir", dataDir]);
    assert.equal((await workspace.exited).code, 0, workspace.output());
    const { workspace_id, name } = JSON.parse(workspace.output()) as {
      workspace_id: string;
      name: string;
    };
    assert.equal(name, "Acme");

    const key = runRelay(["api-key", "create", "--workspace", workspace_id, "--data-dir", dataDir]);
    assert.equal((await key.exited).code, 0, key.output());
    assert.match((JSON.parse(key.output()) as { api_key: string }).api_key, /^rrk_/);

    const server = await startRelay(["--data-dir", dataDir]);
    try {
      const me = await fetch(`${server.url}/v2/workspace`, {
        headers: { "x-api-key": (JSON.parse(key.output()) as { api_key: string }).api_key },
      });
      assert.equal(me.status, 200);
    } finally {
      await server.stop();
    }

    const unknown = runRelay([
      "api-key",
      "create",
      "--workspace",
      crypto.randomUUID(),
      "--data-dir",
      dataDir,
    ]);
    assert.equal((await unknown.exited).code, 1);
    assert.match(unknown.output(), /^error: no workspace /m);

    const malformed = runRelay(["api-key", "create", "--workspace", "acme", "--data-dir", dataDir]);
    assert.equal((await malformed.exited).code, 1);
    assert.match(malformed.output(), /--workspace must be a workspace id/);
  });

  it("says clearly when the port is taken, and exits 1", async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      const relay = runRelay([
        "serve",
        "--port",
        String(port),
        "--data-dir",
        join(dir, "port-taken"),
      ]);
      assert.equal((await relay.exited).code, 1);
      assert.match(relay.output(), new RegExp(`error: 127\\.0\\.0\\.1:${port} is already in use`));
      assert.doesNotMatch(relay.output(), /at .*\.ts:\d+/, "no stack trace");
    } finally {
      blocker.close();
    }
  });

  it("stops at start with every configuration problem listed, exit code 78", async () => {
    const relay = runRelay(["serve", "--port", "http", "--data-dir", join(dir, "bad")], {
      RELAY_LOG_LEVEL: "loud",
    });
    assert.equal((await relay.exited).code, 78);
    assert.match(relay.output(), /--port="http": must be a whole number/);
    assert.match(relay.output(), /RELAY_LOG_LEVEL="loud"/);
    assert.doesNotMatch(
      relay.output(),
      /at .*\.ts:\d+/,
      "no stack trace for a configuration error",
    );
  });
});

describe("serve on a PostgreSQL server", () => {
  const operatorToken = "shared-operator-token-0123456789abcdef";

  it("two processes started together on one empty database both come up, migrating once", async () => {
    const { url, drop } = await createServerDatabase({ migrated: false });
    const env = {
      DATABASE_URL: url,
      RELAY_OPERATOR_TOKEN: operatorToken,
      RELAY_MASTER_KEY: Buffer.alloc(32, 1).toString("base64"),
    };
    try {
      const [a, b] = await Promise.all([
        startRelay(["--data-dir", join(dir, "pg-a")], env),
        startRelay(["--data-dir", join(dir, "pg-b")], env),
      ]);
      try {
        for (const relay of [a, b]) {
          assert.equal((await fetch(`${relay.url}/readyz`)).status, 200);
          assert.doesNotMatch(relay.output(), /error/i);
        }
        // A workspace created through one process is seen by the other.
        const created = await fetch(`${a.url}/v2/workspaces`, {
          method: "POST",
          headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "Shared" }),
        });
        assert.equal(created.status, 201);
        const listed = await fetch(`${b.url}/v2/workspaces`, {
          headers: { authorization: `Bearer ${operatorToken}` },
        });
        assert.equal(((await listed.json()) as { data: unknown[] }).data.length, 1);
      } finally {
        assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0]);
      }
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const { rows } = await client.query("SELECT version FROM schema_migrations");
      await client.end();
      assert.ok(rows.length >= 1);
    } finally {
      await drop();
    }
  });

  it("requires the operator token to be configured, since processes must share it", async () => {
    const { url, drop } = await createServerDatabase();
    try {
      const relay = runRelay(["serve", "--port", "0", "--data-dir", join(dir, "pg-no-token")], {
        DATABASE_URL: url,
      });
      assert.equal((await relay.exited).code, 78);
      assert.match(relay.output(), /RELAY_OPERATOR_TOKEN is required with DATABASE_URL/);
    } finally {
      await drop();
    }
  });

  it("migrate applies pending migrations, then reports the database up to date", async () => {
    const { url, drop } = await createServerDatabase({ migrated: false });
    try {
      const first = runRelay(["migrate"], { DATABASE_URL: url });
      assert.equal((await first.exited).code, 0, first.output());
      assert.match(first.output(), /applied: 0001_initial/);
      const again = runRelay(["migrate"], { DATABASE_URL: url });
      assert.equal((await again.exited).code, 0);
      assert.match(again.output(), /database is up to date/);
    } finally {
      await drop();
    }
  });
});

describe("setup from the command line", () => {
  it("prints a workspace's setup as shell and Terraform, and names RELAY_AWS_ACCOUNT_ID when S3 needs it", async () => {
    const dataDir = join(dir, "setup");
    const workspace = runRelay(["workspace", "create", "--name", "Acme", "--data-dir", dataDir]);
    assert.equal((await workspace.exited).code, 0, workspace.output());
    const { workspace_id } = JSON.parse(workspace.output()) as { workspace_id: string };

    const gcs = runRelay(["setup", "gcs", "--workspace", workspace_id, "--data-dir", dataDir], {
      RELAY_ISSUER_URL: "https://relay.example.com",
    });
    assert.equal((await gcs.exited).code, 0, gcs.output());
    assert.match(gcs.output(), /# ===== 1\. Shell/);
    assert.match(gcs.output(), /ISSUER=https:\/\/relay\.example\.com/);
    assert.match(gcs.output(), /attribute.customer_id\/\$\{WORKSPACE_ID\}/);
    assert.match(gcs.output(), new RegExp(`workspace_id = "${workspace_id}"`));

    const s3 = runRelay(["setup", "s3", "--workspace", workspace_id, "--data-dir", dataDir]);
    assert.equal((await s3.exited).code, 1);
    assert.match(s3.output(), /^error: S3 destinations are not available: .*RELAY_AWS_ACCOUNT_ID/m);

    const json = runRelay([
      "setup",
      "s3",
      "--workspace",
      workspace_id,
      "--aws-account-id",
      "111122223333",
      "--format",
      "json",
      "--data-dir",
      dataDir,
    ]);
    assert.equal((await json.exited).code, 0, json.output());
    const guide = JSON.parse(json.output()) as { relay_identity: Record<string, unknown> };
    assert.equal(guide.relay_identity.trusted_aws_account_id, "111122223333");
    assert.equal(guide.relay_identity.external_id, workspace_id);

    const unknown = runRelay([
      "setup",
      "gcs",
      "--workspace",
      crypto.randomUUID(),
      "--data-dir",
      dataDir,
    ]);
    assert.equal((await unknown.exited).code, 1);
    assert.match(unknown.output(), /^error: no workspace /m);
    const badProvider = runRelay([
      "setup",
      "ftp",
      "--workspace",
      workspace_id,
      "--data-dir",
      dataDir,
    ]);
    assert.equal((await badProvider.exited).code, 1);
    assert.match(badProvider.output(), /provider must be one of s3, gcs, azure_blob/);
  });
});

/** The pid of the embedded server running on `dataDir`, from its postmaster.pid. */
function postmasterPid(dataDir: string): number {
  return Number(readFileSync(join(dataDir, "pgdata", "postmaster.pid"), "utf8").split("\n")[0]);
}

/** Whether `pid` is a live process (an exited one not yet reaped by its parent does not count). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}
