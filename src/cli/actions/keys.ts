/** What `recording-relay keys list|rotate|emergency-rotate` run (loaded by their actions). */
import { showKey, showRotation } from "../../http/routes/signing-keys.ts";
import { listSigningKeys } from "../../oidc/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { openIssuer } from "../../runtime/issuer.ts";
import { masterKeyWarning } from "../../runtime/master-key.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";
import { remoteRelay } from "../remote.ts";

/** Prints the signing keys as JSON (a running relay answers for itself). */
export async function listKeys(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const config = configFrom(io.env, options);
  const remote = remoteRelay(config);
  if (remote) {
    const answer = (await remote.call("GET", "/v2/signing-keys")) as { data: unknown[] };
    io.stdout(JSON.stringify(answer.data, null, 2));
    return;
  }
  const keys = await withDatabase(config, "read", (db) => listSigningKeys(db, Date.now()));
  io.stdout(JSON.stringify(keys.map(showKey), null, 2));
}

/** Publishes a new signing key (signing 24 h later). */
export async function rotateKey(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const config = configFrom(io.env, options);
  const remote = remoteRelay(config);
  if (remote) {
    const answer = (await remote.call("POST", "/v2/signing-keys/rotate")) as {
      result: string;
      kid: string;
    };
    if (answer.result === "already_pending") {
      io.stderr(
        `a new key (${answer.kid}) is already published and waiting to sign: nothing to rotate`,
      );
    }
    io.stdout(JSON.stringify(answer));
    return;
  }
  const outcome = await withDatabase(config, "write", async (db) => {
    const { issuer, masterKey } = await openIssuer(config, db);
    if (masterKey.generated && masterKey.path) io.stderr(masterKeyWarning(masterKey.path));
    await issuer.prepare();
    return await issuer.rotate({ force: true });
  });
  if (outcome.kind === "pending") {
    io.stderr(
      `a new key (${outcome.kid}) is already published and waiting to sign: nothing to rotate`,
    );
  }
  io.stdout(JSON.stringify(showRotation(outcome)));
}

/** A new key signs now; every other key leaves the JWKS now. */
export async function emergencyRotate(io: CliIo, options: Record<string, unknown>): Promise<void> {
  const config = configFrom(io.env, options);
  const remote = remoteRelay(config);
  if (remote) {
    io.stdout(JSON.stringify(await remote.call("POST", "/v2/signing-keys/emergency-rotate")));
    return;
  }
  const rotation = await withDatabase(config, "write", async (db) => {
    const { issuer, masterKey } = await openIssuer(config, db);
    if (masterKey.generated && masterKey.path) io.stderr(masterKeyWarning(masterKey.path));
    await issuer.prepare();
    return await issuer.emergencyRotate();
  });
  io.stdout(JSON.stringify(rotation));
}
