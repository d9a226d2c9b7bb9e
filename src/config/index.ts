export { renderConfigurationDoc } from "./docs.ts";
export { type ConfigSources, loadConfig } from "./load.ts";
export { type Config, type SettingName, settings } from "./settings.ts";
