/**
 * `recording-relay worker` loads only what a worker runs: the CLI loads each command's
 * implementation when that command runs, so a worker process never loads Fastify, the HTTP
 * routes or the other commands (their memory is the idle footprint, docs/performance.md).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createServerDatabase } from "../helpers/databases.ts";
import { killAllRelays, runRelay } from "../helpers/relay-process.ts";

const moduleLog = new URL("../helpers/module-log.ts", import.meta.url).pathname;
// Every process sharing a database shares these (docs/operations.md).
const masterKey = randomBytes(32).toString("base64");
const operatorToken = randomBytes(32).toString("base64url");

let dir: string;
let database: Awaited<ReturnType<typeof createServerDatabase>>;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-worker-modules-"));
  database = await createServerDatabase();
});
after(async () => {
  killAllRelays();
  await database?.drop();
  await rm(dir, { recursive: true, force: true });
});

/** Runs `args` until it prints `ready` (or exits), stops it, and returns the modules it loaded. */
async function modulesLoadedBy(args: string[], ready: RegExp): Promise<string[]> {
  const log = join(dir, `${args[0]}-modules.txt`);
  const relay = runRelay(args, {
    DATABASE_URL: database.url,
    RELAY_MASTER_KEY: masterKey,
    RELAY_OPERATOR_TOKEN: operatorToken,
    RELAY_STAGING_DIR: join(dir, "staging"),
    RELAY_LOG_LEVEL: "warn",
    NODE_OPTIONS: `--import=${moduleLog}`,
    RELAY_TEST_MODULE_LOG: log,
  });
  const deadline = Date.now() + 60_000;
  while (!ready.test(relay.output())) {
    assert.equal(relay.child.exitCode, null, `relay ${args[0]} exited:\n${relay.output()}`);
    assert.ok(Date.now() < deadline, `relay ${args[0]} did not start:\n${relay.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  relay.child.kill("SIGTERM");
  assert.equal((await relay.exited).code, 0, relay.output());
  return (await readFile(log, "utf8")).split("\n");
}

const fastify = /\/node_modules\/fastify\//;
const httpLayer = /\/src\/http\//;

describe("the worker command's module graph", () => {
  it("a worker process loads the delivery engine and never Fastify or the HTTP routes", async () => {
    const modules = await modulesLoadedBy(["worker"], /recording-relay worker delivering/);
    // The log works: the worker's own composition root and the delivery worker are in it.
    assert.ok(modules.some((url) => url.endsWith("/src/runtime/worker.ts")));
    assert.ok(modules.some((url) => url.endsWith("/src/delivery/worker.ts")));
    assert.deepEqual(
      modules.filter((url) => fastify.test(url) || httpLayer.test(url)),
      [],
    );
    // Nor another command's implementation (e.g. `deliver`'s tus client and progress bar).
    assert.deepEqual(
      modules.filter(
        (url) => /\/src\/cli\/actions\//.test(url) && !url.endsWith("/actions/worker.ts"),
      ),
      [],
    );
    assert.deepEqual(
      modules.filter((url) => /\/node_modules\/(tus-js-client|cli-progress)\//.test(url)),
      [],
    );
  });

  it("serve, on the same database, does load Fastify and the routes (the check can see them)", async () => {
    const modules = await modulesLoadedBy(
      ["serve", "--port", "0", "--no-worker"],
      /listening on http/,
    );
    assert.ok(modules.some((url) => fastify.test(url)));
    assert.ok(modules.some((url) => httpLayer.test(url)));
  });
});
