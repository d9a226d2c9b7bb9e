import { Command } from "commander";
import type { CliIo } from "../io.ts";
import { adminSettings, withSettings } from "../options.ts";

/** `recording-relay workspace create --name <name>`: prints the new workspace as JSON. */
export function workspaceCommand(io: CliIo): Command {
  const create = new Command("create")
    .description("Create a workspace (customer account) and print it as JSON")
    .requiredOption("--name <name>", "display name of the customer");
  withSettings(create, adminSettings).action(async (options: Record<string, unknown>) => {
    await (await import("../actions/workspace.ts")).runWorkspaceCreate(io, options);
  });
  return new Command("workspace").description("Manage workspaces").addCommand(create);
}

/** `recording-relay api-key create --workspace <id>`: prints the new key once, as JSON. */
export function apiKeyCommand(io: CliIo): Command {
  const create = new Command("create")
    .description("Create an API key for a workspace; the key is printed only this once")
    .requiredOption("--workspace <id>", "the workspace id");
  withSettings(create, adminSettings).action(async (options: Record<string, unknown>) => {
    await (await import("../actions/workspace.ts")).runApiKeyCreate(io, options);
  });
  return new Command("api-key").description("Manage workspace API keys").addCommand(create);
}
