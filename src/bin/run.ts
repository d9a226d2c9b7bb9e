/** What the `recording-relay` executable runs once its compile cache is on: argv and the environment to the CLI. */
import { processIo } from "../cli/io.ts";
import { runCli } from "../cli/main.ts";
import { OWNER_ONLY_UMASK } from "../lib/owner-only.ts";

// Everything the relay writes (database, tokens, keys, staged recordings) is owner-only.
process.umask(OWNER_ONLY_UMASK);
const code = await runCli(process.argv.slice(2), processIo);
// `serve` keeps running (its listener holds the event loop); every other command ends here.
if (code !== 0) process.exit(code);
