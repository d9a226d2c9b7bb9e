import { Command } from "commander";
import { showKey, showRotation } from "../../http/routes/signing-keys.ts";
import { listSigningKeys } from "../../oidc/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { openIssuer } from "../../runtime/issuer.ts";
import { masterKeyWarning } from "../../runtime/master-key.ts";
import type { CliIo } from "../io.ts";
import { adminSettings, configFrom, withSettings } from "../options.ts";
import { remoteRelay } from "../remote.ts";

/** `recording-relay keys list|rotate`: the OIDC signing keys (public facts only). */
export function keysCommand(io: CliIo): Command {
  const list = new Command("list").description(
    "List the OIDC signing keys with their state and schedule, as JSON (no key material)",
  );
  withSettings(list, adminSettings).action(async (options: Record<string, unknown>) => {
    const config = configFrom(io.env, options);
    const remote = remoteRelay(config);
    if (remote) {
      const answer = (await remote.call("GET", "/v2/signing-keys")) as { data: unknown[] };
      io.stdout(JSON.stringify(answer.data, null, 2));
      return;
    }
    const keys = await withDatabase(config, "read", (db) => listSigningKeys(db, Date.now()));
    io.stdout(JSON.stringify(keys.map(showKey), null, 2));
  });

  const rotate = new Command("rotate").description(
    "Publish a new OIDC signing key now; it starts signing 24 h later (the publish-ahead window clouds' JWKS caches need), and the current key retires then",
  );
  withSettings(rotate, adminSettings).action(async (options: Record<string, unknown>) => {
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
  });

  const emergency = new Command("emergency-rotate").description(
    "A compromised key: a new OIDC signing key signs now and every other key leaves the JWKS now (tokens the old keys signed are refused; deliveries whose exchange fails meanwhile retry)",
  );
  withSettings(emergency, adminSettings).action(async (options: Record<string, unknown>) => {
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
  });

  return new Command("keys")
    .description("Manage the OIDC issuer's signing keys")
    .addCommand(list)
    .addCommand(rotate)
    .addCommand(emergency);
}
