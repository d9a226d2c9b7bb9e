/**
 * Loaded with `--import` into a relay child process (through NODE_OPTIONS): records the URL of
 * every module the process loads (ES modules and `require`d ones alike) and writes the list, one
 * per line, to $RELAY_TEST_MODULE_LOG when the process exits. What a process loads is otherwise
 * invisible from outside; tests read the list to prove a command leaves a module graph alone.
 */
import { writeFileSync } from "node:fs";
import { registerHooks } from "node:module";

const loaded = new Set<string>();
registerHooks({
  load(url, context, nextLoad) {
    loaded.add(url);
    return nextLoad(url, context);
  },
});
process.on("exit", () => {
  const file = process.env.RELAY_TEST_MODULE_LOG;
  if (file) writeFileSync(file, [...loaded].join("\n"));
});
