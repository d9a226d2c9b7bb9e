/**
 * The customer setup guide (docs/api.md, `GET /v2/recording-storage/setup/{provider}`; CLI
 * `recording-relay setup`): the trust a customer configures on their side, filled in with their
 * Workspace ID and the relay's issuer, account and ExternalId, as a shell script and as Terraform.
 */
import type { RelayTrust } from "../domain/index.ts";

/** What a generator needs; `Known` is its provider's `recording_storage` type. */
export interface SetupInput<Known extends { provider: string } = { provider: string }> {
  workspaceId: string;
  trust: RelayTrust;
  /** The key template in force for this workspace: it fixes the prefix the permission covers. */
  keyTemplate: string;
  /** The workspace's saved default of this provider, to fill in names the relay already knows. */
  known: Known | undefined;
}

/** A value the customer must supply. */
export interface Placeholder {
  /** The shell variable / Terraform variable that holds it. */
  name: string;
  description: string;
}

/** One provider's complete setup. */
export interface SetupGuide {
  /** The provider's name (`s3`, `gcs`, `azure_blob`). */
  provider: string;
  workspace_id: string;
  /** What the relay presents, which the customer's trust checks (issuer, subject, account, …). */
  relay_identity: Record<string, string | number>;
  /** Values the customer must fill in before running either form. */
  placeholders: Placeholder[];
  /** Shell script with `aws`, `gcloud` or `az` commands. */
  cli: string;
  /** A Terraform configuration (one file). */
  terraform: string;
  /** The `recording_storage` object to send once the trust exists (placeholders in `<...>`). */
  recording_storage: Record<string, string>;
  /** Things to know: what is granted and why, and optional narrowing. */
  notes: string[];
}

/** Quotes a value for POSIX shells. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A Terraform string literal, with interpolation sequences escaped. */
export function hclString(value: string): string {
  const escaped = value
    .replaceAll("\\", "\\\\")
    .replaceAll('"', '\\"')
    .replaceAll("${", "$${")
    .replaceAll("%{", "%%{");
  return `"${escaped}"`;
}

/** `<your-thing>`, the marker of a value the customer must fill in. */
export const fillIn = (what: string) => `<your-${what}>`;

/**
 * The first lines of a setup script: shebang, what it sets up and does, a warning (commented, and
 * said again on stderr when the script runs), strict mode.
 */
export function scriptHeader(
  title: string,
  workspaceId: string,
  about: string[],
  warning?: string,
): string[] {
  return [
    "#!/usr/bin/env bash",
    `# recording-relay: ${title} setup for workspace ${workspaceId}`,
    ...about.map((line) => `# ${line}`),
    ...warningComment(warning),
    "set -euo pipefail",
    ...(warning ? [`echo ${shellQuote(`WARNING: ${warning}`)} >&2`] : []),
    "",
  ];
}

/**
 * Why a guide cannot work as printed when the relay's issuer is not https (undefined when it is):
 * Google, AWS and Entra all refuse plain-http issuers.
 */
export function insecureIssuerWarning(issuerUrl: string): string | undefined {
  if (issuerUrl.startsWith("https://")) return undefined;
  return `the relay's issuer ${issuerUrl} is not https. Google (a Workload Identity provider's issuer "must be an HTTPS endpoint"), AWS (IAM OIDC providers) and Microsoft Entra (federated credentials) accept only https issuers, so this trust cannot be created as printed. Ask the relay's operator to serve the issuer over https (RELAY_ISSUER_URL, behind a reverse proxy with TLS) and for a new guide.`;
}

/** `# WARNING: …` comment lines (shell and Terraform), wrapped; none without a warning. */
export function warningComment(warning: string | undefined): string[] {
  if (!warning) return [];
  const lines: string[] = [];
  let line = "# WARNING:";
  for (const word of warning.split(" ")) {
    if (line.length + word.length + 1 > 98) {
      lines.push(line);
      line = "#         ";
    }
    line += ` ${word}`;
  }
  lines.push(line);
  return lines;
}

/** `  # FILL IN` after a shell variable the customer must supply (one of `placeholders`). */
export function fillInMarker(placeholders: Placeholder[]): (name: string) => string {
  return (name) => (placeholders.some((p) => p.name === name) ? "  # FILL IN" : "");
}

/** A shell guard refusing to run while placeholders are unfilled. */
export function placeholderGuard(names: string[]): string[] {
  if (names.length === 0) return [];
  const joined = names.map((name) => `$${name}`).join("");
  return [
    `case "${joined}" in *"<your-"*)`,
    `  echo "Fill in ${names.join(", ")} at the top of this script first." >&2`,
    "  exit 1",
    "  ;;",
    "esac",
  ];
}

/** A Terraform string variable; without a value it has no default, so the customer must set it. */
export function hclVariable(name: string, description: string, value: string | undefined): string {
  return [
    `variable "${name}" {`,
    `  description = ${hclString(description)}`,
    "  type        = string",
    ...(value === undefined ? [] : [`  default     = ${hclString(value)}`]),
    "}",
  ].join("\n");
}
