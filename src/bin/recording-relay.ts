#!/usr/bin/env node
/** The `recording-relay` executable: hands argv and the environment to the CLI. */
import { runCli } from "../cli/main.ts";

const code = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: (line) => process.stdout.write(`${line}\n`),
  stderr: (line) => process.stderr.write(`${line}\n`),
});
// `serve` keeps running (its listener holds the event loop); every other command ends here.
if (code !== 0) process.exit(code);
