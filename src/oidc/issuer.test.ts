import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from "jose";
import {
  createServerDatabase,
  databaseKinds,
  openTestDatabase,
} from "../../test/helpers/databases.ts";
import { openEmbedded } from "../db/embedded.ts";
import { type Db, migrate, openPostgres } from "../db/index.ts";
import { isAppError } from "../errors/index.ts";
import { createIssuer } from "./index.ts";
import { openPrivateKey } from "./sealed-keys.ts";

const ISSUER = "https://relay.example.com";
const AUDIENCE = "sts.amazonaws.com";
const randomKey = () => crypto.getRandomValues(new Uint8Array(32));

for (const kind of databaseKinds) {
  describe(`issuer keys at rest (${kind})`, () => {
    let db: Db;
    before(async () => {
      db = await openTestDatabase(kind);
    });
    after(async () => await db.close());

    it("stores the private key only sealed, and a wrong master key neither opens it nor replaces it", async () => {
      const masterKey = randomKey();
      const issuer = createIssuer({ db, issuerUrl: ISSUER, masterKey });
      await issuer.prepare();
      const { rows } = await db.query<{ kid: string; private_key_encrypted: Uint8Array }>(
        "SELECT kid, private_key_encrypted FROM signing_keys",
      );
      assert.equal(rows.length, 1);
      const sealed = Buffer.from(rows[0]!.private_key_encrypted);
      assert.ok(!sealed.toString("latin1").includes("PRIVATE KEY"), "no plaintext PEM stored");
      const pem = openPrivateKey(masterKey, rows[0]!.kid, sealed);
      // It opens to a real RSA private key of at least 2048 bits.
      const privateKey = createPrivateKey(pem);
      assert.equal(privateKey.asymmetricKeyType, "rsa");
      assert.ok((privateKey.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048);
      // Bound to its row: the same ciphertext under another kid does not open.
      assert.throws(() => openPrivateKey(masterKey, "another-kid", sealed), {
        code: "MASTER_KEY_MISMATCH",
      });

      const wrong = createIssuer({ db, issuerUrl: ISSUER, masterKey: randomKey() });
      await assert.rejects(wrong.prepare(), (error) => {
        assert.ok(isAppError(error, "MASTER_KEY_MISMATCH"));
        assert.match(
          error.message,
          new RegExp(`does not decrypt OIDC signing key ${rows[0]!.kid}`),
        );
        return true;
      });
      await assert.rejects(wrong.mintToken({ workspaceId: "ws", audience: AUDIENCE }), {
        code: "MASTER_KEY_MISMATCH",
      });
      const after = await db.query("SELECT kid FROM signing_keys");
      assert.equal(after.rows.length, 1, "no key was created by the wrong master key");
    });
  });
}

describe("restarting keeps the keys", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "relay-issuer-"));
  });
  after(async () => await rm(dir, { recursive: true, force: true }));

  const restartCheck = async (open: () => Promise<Db>) => {
    const masterKey = randomKey();
    const first = await open();
    const issuerA = createIssuer({ db: first, issuerUrl: ISSUER, masterKey });
    await issuerA.prepare();
    const token = await issuerA.mintToken({ workspaceId: "ws-1", audience: AUDIENCE });
    const jwksBefore = await issuerA.jwks();
    await first.close();

    const second = await open();
    try {
      const issuerB = createIssuer({ db: second, issuerUrl: ISSUER, masterKey });
      await issuerB.prepare();
      assert.deepEqual(await issuerB.jwks(), jwksBefore);
      const again = await issuerB.mintToken({ workspaceId: "ws-1", audience: AUDIENCE });
      assert.equal(decodeProtectedHeader(again).kid, decodeProtectedHeader(token).kid);
      // A token from before the restart verifies against the JWKS after it, and vice versa.
      const afterJwks = createLocalJWKSet((await issuerB.jwks()) as { keys: JWK[] });
      await jwtVerify(token, afterJwks, { issuer: ISSUER, audience: AUDIENCE });
      await jwtVerify(again, createLocalJWKSet(jwksBefore as { keys: JWK[] }), {
        issuer: ISSUER,
        audience: AUDIENCE,
      });
    } finally {
      await second.close();
    }
  };

  it("with the embedded data directory", async () => {
    const dataDir = join(dir, "pgdata");
    await restartCheck(async () => {
      const db = await openEmbedded({ pgdata: dataDir });
      await migrate(db);
      return db;
    });
  });

  it("with a PostgreSQL server", async () => {
    const { url, drop } = await createServerDatabase();
    try {
      await restartCheck(async () => openPostgres({ connectionString: url, poolSize: 2 }));
    } finally {
      await drop();
    }
  });
});

describe("several processes on one PostgreSQL server", () => {
  it("bootstrap one key and schedule one successor, however many rotate at once", async () => {
    const { url, drop } = await createServerDatabase();
    const pools = Array.from({ length: 8 }, () =>
      openPostgres({ connectionString: url, poolSize: 2 }),
    );
    try {
      const masterKey = randomKey();
      const issuers = pools.map((db) => createIssuer({ db, issuerUrl: ISSUER, masterKey }));
      await Promise.all(issuers.map((issuer) => issuer.prepare()));
      const count = async () => (await pools[0]!.query("SELECT kid FROM signing_keys")).rows.length;
      assert.equal(await count(), 1, "one bootstrap key");

      const outcomes = await Promise.all(issuers.map((issuer) => issuer.rotate({ force: true })));
      const scheduled = outcomes.filter((outcome) => outcome.kind === "scheduled");
      assert.equal(scheduled.length, 1, "exactly one rotation wins");
      assert.ok(outcomes.every((o) => o.kind === "scheduled" || o.kind === "pending"));
      assert.equal(await count(), 2);
      // All processes sign with the same (still current) key and publish the same set.
      const kids = await Promise.all(
        issuers.map(
          async (issuer) =>
            decodeProtectedHeader(await issuer.mintToken({ workspaceId: "ws", audience: AUDIENCE }))
              .kid,
        ),
      );
      assert.equal(new Set(kids).size, 1);
      assert.notEqual(kids[0], scheduled[0]!.kid, "the new key does not sign before publish-ahead");
    } finally {
      await Promise.all(pools.map((pool) => pool.close()));
      await drop();
    }
  });
});
