/**
 * Admin while serving: with `serve` holding the embedded database, the admin commands (child
 * processes, as an operator runs them) reach it through its HTTP API with the operator token,
 * found through `<data dir>/serve.json`, or through `--url`/RELAY_URL. Once it stops they open the
 * database themselves again.
 */
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { killAllRelays, runRelay, startRelay } from "../helpers/relay-process.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-cli-remote-"));
  // Under root the embedded server runs as `postgres`, which must pass through to the data dirs.
  await chmod(dir, 0o711);
});
after(async () => {
  killAllRelays();
  await rm(dir, { recursive: true, force: true });
});

/** Runs one command to its end; answers its exit code and output. */
async function command(args: string[], env: Record<string, string> = {}) {
  const run = runRelay(args, env);
  const { code } = await run.exited;
  return { code, output: run.output() };
}

const lastJson = (output: string) => {
  const start = output.search(/^[[{]/m);
  return JSON.parse(output.slice(start));
};

describe("admin commands while serve runs on the embedded database", () => {
  it("go through the running relay's HTTP API, and through the database once it stops", async () => {
    const dataDir = join(dir, "embedded");
    const relay = await startRelay(["--data-dir", dataDir]);
    const serveFile = join(dataDir, "serve.json");
    assert.equal((await stat(serveFile)).mode & 0o777, 0o600);
    const advertised = JSON.parse(await readFile(serveFile, "utf8"));
    assert.equal(advertised.url, relay.url);
    assert.equal(advertised.pid, relay.child.pid);
    const at = ["--data-dir", dataDir];

    const workspace = await command(["workspace", "create", "--name", "Live Inc", ...at]);
    assert.equal(workspace.code, 0, workspace.output);
    const workspaceId = lastJson(workspace.output).workspace_id as string;
    assert.match(workspaceId, /^[0-9a-f-]{36}$/);

    const key = await command(["api-key", "create", "--workspace", workspaceId, ...at]);
    assert.equal(key.code, 0, key.output);
    const apiKey = lastJson(key.output).api_key as string;
    // The key works against the running relay: it was made there.
    const me = await fetch(`${relay.url}/v2/workspace`, { headers: { "x-api-key": apiKey } });
    assert.equal(me.status, 200);

    const listed = await command(["keys", "list", ...at]);
    assert.equal(listed.code, 0, listed.output);
    assert.equal(lastJson(listed.output)[0].state, "signing");
    const rotated = await command(["keys", "rotate", ...at]);
    assert.equal(rotated.code, 0, rotated.output);
    assert.equal(lastJson(rotated.output).result, "scheduled");

    // setup answers with the running relay's own issuer (derived from its listen address).
    const setup = await command([
      "setup",
      "gcs",
      "--workspace",
      workspaceId,
      "--format",
      "json",
      ...at,
    ]);
    assert.equal(setup.code, 0, setup.output);
    const guide = lastJson(setup.output);
    assert.equal(guide.workspace_id, workspaceId);
    assert.equal(guide.relay_identity.issuer, `http://localhost:${new URL(relay.url).port}`);

    // verify reaches the relay: no default destination there is its 404.
    const verify = await command(["verify", "--workspace", workspaceId, ...at]);
    assert.equal(verify.code, 1);
    assert.match(verify.output, /answered 404: this workspace has no default recording_storage/);

    // --url names the relay explicitly (any data directory), with RELAY_OPERATOR_TOKEN.
    const token = (await readFile(join(dataDir, "operator-token"), "utf8")).trim();
    const explicit = await command(
      ["keys", "list", "--url", relay.url, "--data-dir", join(dir, "elsewhere")],
      {
        RELAY_OPERATOR_TOKEN: token,
      },
    );
    assert.equal(explicit.code, 0, explicit.output);
    assert.equal(lastJson(explicit.output).length, 2);
    const wrongToken = await command(["keys", "list"], {
      RELAY_URL: relay.url,
      RELAY_OPERATOR_TOKEN: "x".repeat(40),
    });
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.output, /answered 401/);

    assert.equal(await relay.stop(), 0);
    await assert.rejects(stat(serveFile), { code: "ENOENT" });
    // Stopped: the commands open the database themselves and see what was made through the API.
    const offline = await command(["keys", "list", ...at]);
    assert.equal(offline.code, 0, offline.output);
    assert.equal(lastJson(offline.output).length, 2);
    const second = await command(["api-key", "create", "--workspace", workspaceId, ...at]);
    assert.equal(second.code, 0, second.output);
  });
});
