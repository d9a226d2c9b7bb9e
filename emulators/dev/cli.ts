#!/usr/bin/env node
/**
 * The development entry of `recording-relay`: the production CLI plus the commands that need the
 * emulators (`demo`, `emulators`). Only this file (and what it imports) joins src/ and emulators/;
 * `npm run demo` and `npm run emulators` start here, never the packaged executable.
 */
import { once } from "node:events";
import { processIo } from "../../src/cli/io.ts";
import { runCli } from "../../src/cli/main.ts";
import { OWNER_ONLY_UMASK } from "../../src/lib/owner-only.ts";
import { demoCommand } from "./demo.ts";
import { emulatorsCommand } from "./emulators-command.ts";

process.umask(OWNER_ONLY_UMASK);
const untilSignal = () => Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
const code = await runCli(process.argv.slice(2), processIo, [
  emulatorsCommand(processIo, untilSignal),
  demoCommand(processIo, untilSignal),
]);
if (code !== 0) process.exit(code);
