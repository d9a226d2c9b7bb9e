/** What `recording-relay setup` runs (loaded by its command's action, see commands/setup.ts). */
import { isUuid } from "../../domain/ids.ts";
import { AppError } from "../../errors/index.ts";
import { type StorageProvider, storageProviders } from "../../providers/index.ts";
import { generateSetup } from "../../providers/setup-guides.ts";
import { withDatabase } from "../../runtime/database.ts";
import { trustFrom } from "../../runtime/destinations.ts";
import type { SetupGuide } from "../../setup/guide.ts";
import { findWorkspace, getDefaultRecordingStorage } from "../../workspaces/index.ts";
import type { CliIo } from "../io.ts";
import { configFrom } from "../options.ts";
import { remoteRelay } from "../remote.ts";

const formats = ["all", "cli", "terraform", "json"] as const;

/** Prints a workspace's customer setup for `provider` in the format asked. */
export async function runSetup(
  io: CliIo,
  provider: string,
  options: Record<string, unknown>,
): Promise<void> {
  if (!(storageProviders as string[]).includes(provider)) {
    throw new AppError(
      "VALIDATION_FAILED",
      `provider must be one of ${storageProviders.join(", ")}, not ${JSON.stringify(provider)}`,
    );
  }
  const format = String(options.format);
  if (!(formats as readonly string[]).includes(format)) {
    throw new AppError("VALIDATION_FAILED", `--format must be one of ${formats.join(", ")}`);
  }
  const workspaceId = String(options.workspace);
  if (!isUuid(workspaceId)) {
    throw new AppError("VALIDATION_FAILED", "--workspace must be a workspace id (a UUID)");
  }
  const config = configFrom(io.env, options);
  const remote = remoteRelay(config);
  // A running relay answers with its own configuration (issuer, AWS account): the truth.
  const guide = remote
    ? ((await remote.call(
        "GET",
        `/v2/workspaces/${workspaceId}/recording-storage/setup/${provider}`,
      )) as SetupGuide)
    : await localGuide(config, provider as StorageProvider, workspaceId);
  switch (format) {
    case "cli":
      io.stdout(guide.cli.trimEnd());
      break;
    case "terraform":
      io.stdout(guide.terraform.trimEnd());
      break;
    case "json":
      io.stdout(JSON.stringify(guide, null, 2));
      break;
    default:
      io.stdout(
        [
          "# ===== 1. Shell (save as setup.sh and run it, or paste) =====",
          guide.cli.trimEnd(),
          "",
          "# ===== 2. Or the same as Terraform (save as main.tf) =====",
          guide.terraform.trimEnd(),
          "",
          "# ===== Notes =====",
          ...guide.notes.map((note) => `# - ${note}`),
        ].join("\n"),
      );
  }
}

/** The guide from the database and this command's own settings (no relay running). */
async function localGuide(
  config: ReturnType<typeof configFrom>,
  provider: StorageProvider,
  workspaceId: string,
): Promise<SetupGuide> {
  const saved = await withDatabase(config, "read", async (db) => {
    if (!(await findWorkspace(db, workspaceId))) {
      throw new AppError("NOT_FOUND", `no workspace ${workspaceId}`);
    }
    return await getDefaultRecordingStorage(db, workspaceId);
  });
  const known = saved?.provider === provider ? saved : undefined;
  return generateSetup(provider, {
    workspaceId,
    trust: trustFrom(config),
    keyTemplate: known?.key_template ?? config.defaultKeyTemplate,
    known,
  });
}
