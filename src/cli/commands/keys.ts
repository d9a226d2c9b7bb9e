import { Command } from "commander";
import { showKey, showRotation } from "../../http/routes/signing-keys.ts";
import { listSigningKeys } from "../../oidc/index.ts";
import { withDatabase } from "../../runtime/database.ts";
import { openIssuer } from "../../runtime/issuer.ts";
import { masterKeyWarning } from "../../runtime/master-key.ts";
import type { CliIo } from "../io.ts";
import { configFrom, databaseSettings, withSettings } from "../options.ts";

/** `recording-relay keys list|rotate`: the OIDC signing keys (public facts only). */
export function keysCommand(io: CliIo): Command {
  const list = new Command("list").description(
    "List the OIDC signing keys with their state and schedule, as JSON (no key material)",
  );
  withSettings(list, databaseSettings).action(async (options: Record<string, unknown>) => {
    const keys = await withDatabase(configFrom(io.env, options), "read", (db) =>
      listSigningKeys(db, Date.now()),
    );
    io.stdout(JSON.stringify(keys.map(showKey), null, 2));
  });

  const rotate = new Command("rotate").description(
    "Publish a new OIDC signing key now; it starts signing 24 h later (the publish-ahead window clouds' JWKS caches need), and the current key retires then",
  );
  withSettings(rotate, databaseSettings).action(async (options: Record<string, unknown>) => {
    const config = configFrom(io.env, options);
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
  withSettings(emergency, databaseSettings).action(async (options: Record<string, unknown>) => {
    const config = configFrom(io.env, options);
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
