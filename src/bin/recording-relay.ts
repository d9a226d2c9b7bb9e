#!/usr/bin/env node
/** The `recording-relay` executable: hands argv and the environment to the CLI. */
import { once } from "node:events";
import { runCli } from "../cli/main.ts";
import { demoCommand } from "./demo.ts";
import { emulatorsCommand } from "./emulators-command.ts";

const io = {
  env: process.env,
  stdout: (line: string) => process.stdout.write(`${line}\n`),
  stderr: (line: string) => process.stderr.write(`${line}\n`),
};
const untilSignal = () => Promise.race([once(process, "SIGINT"), once(process, "SIGTERM")]);
const code = await runCli(process.argv.slice(2), io, [
  emulatorsCommand(io, untilSignal),
  demoCommand(io, untilSignal),
]);
// `serve` keeps running (its listener holds the event loop); every other command ends here.
if (code !== 0) process.exit(code);
