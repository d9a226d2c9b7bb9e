/** Writes docs/configuration.md from the settings table (`npm run docs:config`). */
import { writeFileSync } from "node:fs";
import { renderConfigurationDoc } from "../src/config/index.ts";

writeFileSync(new URL("../docs/configuration.md", import.meta.url), renderConfigurationDoc());
