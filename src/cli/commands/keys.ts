import { Command } from "commander";
import type { CliIo } from "../io.ts";
import { adminSettings, withSettings } from "../options.ts";

/** `recording-relay keys list|rotate`: the OIDC signing keys (public facts only). */
export function keysCommand(io: CliIo): Command {
  const list = new Command("list").description(
    "List the OIDC signing keys with their state and schedule, as JSON (no key material)",
  );
  withSettings(list, adminSettings).action(async (options: Record<string, unknown>) => {
    await (await import("../actions/keys.ts")).listKeys(io, options);
  });

  const rotate = new Command("rotate").description(
    "Publish a new OIDC signing key now; it starts signing 24 h later (the publish-ahead window clouds' JWKS caches need), and the current key retires then",
  );
  withSettings(rotate, adminSettings).action(async (options: Record<string, unknown>) => {
    await (await import("../actions/keys.ts")).rotateKey(io, options);
  });

  const emergency = new Command("emergency-rotate").description(
    "A compromised key: a new OIDC signing key signs now and every other key leaves the JWKS now (tokens the old keys signed are refused; deliveries whose exchange fails meanwhile retry)",
  );
  withSettings(emergency, adminSettings).action(async (options: Record<string, unknown>) => {
    await (await import("../actions/keys.ts")).emergencyRotate(io, options);
  });

  return new Command("keys")
    .description("Manage the OIDC issuer's signing keys")
    .addCommand(list)
    .addCommand(rotate)
    .addCommand(emergency);
}
