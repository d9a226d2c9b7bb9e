import { settings } from "./settings.ts";

/** Renders `docs/configuration.md` from the settings table (`npm run docs:config` writes it). */
export function renderConfigurationDoc(): string {
  const rows = Object.values(settings).map((spec) => {
    const flag = "flag" in spec ? `\`${spec.flag}\`` : "—";
    const fallback = "default" in spec ? `\`${spec.default}\`` : "unset";
    return `| \`${spec.env}\` | ${flag} | ${fallback} | ${spec.description} |`;
  });
  return [
    "# Configuration",
    "",
    "<!-- Generated from src/config/settings.ts by `npm run docs:config`; a test fails when it is stale. -->",
    "",
    "Every setting is an environment variable; most also have a flag on `recording-relay serve`,",
    "`migrate` and the other commands, which wins over the environment. Invalid values stop the",
    "process at start with every problem listed. Secrets (marked as having no flag) are never",
    "printed back, not even in error messages.",
    "",
    "| environment | flag | default | meaning |",
    "| --- | --- | --- | --- |",
    ...rows,
    "",
  ].join("\n");
}
