#!/usr/bin/env node
import { processIo } from "../cli/io.ts";
/** The `recording-relay` executable: hands argv and the environment to the CLI. */
import { runCli } from "../cli/main.ts";

const code = await runCli(process.argv.slice(2), processIo);
// `serve` keeps running (its listener holds the event loop); every other command ends here.
if (code !== 0) process.exit(code);
