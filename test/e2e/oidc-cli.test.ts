/** The OIDC issuer through the real executable: startup, restarts, `keys`, and no key material out. */
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { exportJWK, importPKCS8 } from "jose";
import { openEmbedded } from "../../src/db/embedded.ts";
import { migrate } from "../../src/db/index.ts";
import { openPrivateKey } from "../../src/oidc/sealed-keys.ts";
import { createServerDatabase } from "../helpers/databases.ts";
import { killAllRelays, runRelay, startRelay } from "../helpers/relay-process.ts";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-oidc-cli-"));
  // Under root the embedded server runs as `postgres`, which must pass through to the data dirs.
  await chmod(dir, 0o711);
});
after(async () => {
  killAllRelays();
  await rm(dir, { recursive: true, force: true });
});

const kidsOf = async (url: string): Promise<string[]> => {
  const response = await fetch(`${url}/.well-known/jwks.json`);
  assert.equal(response.status, 200);
  return ((await response.json()) as { keys: { kid: string }[] }).keys.map((key) => key.kid).sort();
};
// A first start (initdb) is slow on a busy machine; the startup under test is not about speed.
const STARTUP_TIMEOUT_MS = 90_000;
const base64Key = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64");

describe("issuer on the embedded default", () => {
  it("generates the master key once, keeps keys across restarts, rotates from the CLI, and never shows key material", async () => {
    const dataDir = join(dir, "embedded");
    // Everything the relay showed anyone: process output (logs at debug) and HTTP bodies.
    const seen: string[] = [];

    const first = await startRelay(
      ["--data-dir", dataDir, "--log-level", "debug"],
      {},
      STARTUP_TIMEOUT_MS,
    );
    const keyPath = join(dataDir, "master-key");
    assert.match(first.output(), /WARNING: generated the master key/);
    assert.equal((await stat(keyPath)).mode & 0o777, 0o600);
    const [bootKid] = await kidsOf(first.url);
    for (const path of [
      "/.well-known/openid-configuration",
      "/.well-known/jwks.json",
      "/openapi.json",
      "/.well-known/jwks.json/../nope",
      "/v2/workspaces",
    ]) {
      seen.push(await (await fetch(`${first.url}${path}`)).text());
    }
    assert.equal(await first.stop(), 0);
    seen.push(first.output());

    const list = runRelay(["keys", "list", "--data-dir", dataDir]);
    assert.equal((await list.exited).code, 0, list.output());
    seen.push(list.output());
    const listed = JSON.parse(list.output()) as { kid: string; state: string }[];
    assert.deepEqual(
      listed.map((key) => [key.kid, key.state]),
      [[bootKid, "signing"]],
    );

    const rotate = runRelay(["keys", "rotate", "--data-dir", dataDir]);
    assert.equal((await rotate.exited).code, 0, rotate.output());
    seen.push(rotate.output());
    const rotated = JSON.parse(rotate.output()) as {
      result: string;
      kid: string;
      replaces: string;
    };
    assert.equal(rotated.result, "scheduled");
    assert.equal(rotated.replaces, bootKid);

    // A restart publishes the same keys (the old one still signing), and warns no more.
    const second = await startRelay(
      ["--data-dir", dataDir, "--log-level", "debug"],
      {},
      STARTUP_TIMEOUT_MS,
    );
    assert.deepEqual(await kidsOf(second.url), [bootKid!, rotated.kid].sort());
    assert.doesNotMatch(second.output(), /WARNING/);
    assert.equal(await second.stop(), 0);
    seen.push(second.output());

    const masterKeyText = (await readFile(keyPath, "utf8")).trim();

    // What must never have appeared: the master key and every private member of every key.
    const masterKey = Buffer.from(masterKeyText, "base64");
    const secrets = [masterKeyText, masterKey.toString("hex"), masterKey.toString("base64url")];
    const db = await openEmbedded({ pgdata: join(dataDir, "pgdata") });
    try {
      await migrate(db);
      const { rows } = await db.query<{ kid: string; private_key_encrypted: Uint8Array }>(
        "SELECT kid, private_key_encrypted FROM signing_keys",
      );
      assert.equal(rows.length, 2, "no key appeared or vanished along the way");
      for (const row of rows) {
        const pem = openPrivateKey(masterKey, row.kid, row.private_key_encrypted);
        secrets.push(...pem.split("\n").filter((line) => line.length > 40));
        const jwk = await exportJWK(await importPKCS8(pem, "RS256", { extractable: true }));
        for (const member of ["d", "p", "q", "dp", "dq", "qi"] as const) {
          secrets.push(jwk[member]!);
        }
      }
    } finally {
      await db.close();
    }
    const everything = seen.join("\n");
    assert.ok(everything.includes(bootKid!), "the scan covers what was shown");
    for (const secret of secrets) {
      assert.ok(secret.length >= 40);
      // A 24-character slice is enough to recognise a leak even if the value was wrapped.
      assert.ok(!everything.includes(secret.slice(0, 24)), "private key material leaked");
    }
    assert.doesNotMatch(everything, /PRIVATE KEY/);
  });
});

describe("issuer on a PostgreSQL server", () => {
  it("requires a shared master key, serves the same keys from every process and across restarts, and refuses a wrong one", async () => {
    const { url, drop } = await createServerDatabase();
    const env = {
      DATABASE_URL: url,
      RELAY_OPERATOR_TOKEN: "shared-operator-token-0123456789abcdef",
      RELAY_MASTER_KEY: base64Key(),
    };
    try {
      const { RELAY_MASTER_KEY: _, ...withoutKey } = env;
      const unset = runRelay(["serve", "--port", "0", "--data-dir", join(dir, "pg-x")], withoutKey);
      assert.equal((await unset.exited).code, 78);
      assert.match(unset.output(), /RELAY_MASTER_KEY is required with DATABASE_URL/);

      const [a, b] = await Promise.all([
        startRelay(["--data-dir", join(dir, "pg-a")], env),
        startRelay(["--data-dir", join(dir, "pg-b")], env),
      ]);
      const kids = await kidsOf(a.url);
      assert.equal(kids.length, 1, "two processes starting together bootstrap one key");
      assert.deepEqual(await kidsOf(b.url), kids);
      assert.deepEqual(await Promise.all([a.stop(), b.stop()]), [0, 0]);

      const restarted = await startRelay(["--data-dir", join(dir, "pg-a")], env);
      assert.deepEqual(await kidsOf(restarted.url), kids);
      assert.equal(await restarted.stop(), 0);

      const wrong = runRelay(["serve", "--port", "0", "--data-dir", join(dir, "pg-c")], {
        ...env,
        RELAY_MASTER_KEY: base64Key(),
      });
      assert.equal((await wrong.exited).code, 78);
      assert.match(wrong.output(), new RegExp(`does not decrypt OIDC signing key ${kids[0]}`));
    } finally {
      await drop();
    }
  });
});
