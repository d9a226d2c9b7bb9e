/**
 * The test command (`npm test`): starts a throwaway PostgreSQL server, prepares the migrated
 * template database every PostgreSQL-backed test clones, runs node:test over every `*.test.ts`
 * (or the files given as arguments) with TEST_DATABASE_URL set, and always stops the server.
 */
import { spawn } from "node:child_process";
import { prepareTemplateDatabase } from "./helpers/databases.ts";
import { startPostgresServer } from "./helpers/postgres-server.ts";

const defaultGlobs = ["src/**/*.test.ts", "emulators/**/*.test.ts", "test/**/*.test.ts"];
const args = process.argv.slice(2);
const files = args.filter((arg) => !arg.startsWith("--"));
const flags = args.filter((arg) => arg.startsWith("--"));

const server = await startPostgresServer();
process.stdout.write(`PostgreSQL test server: ${server.url}\n`);
let exitCode = 1;
try {
  await prepareTemplateDatabase(server.url);
  exitCode = await new Promise<number>((resolve) => {
    const child = spawn(
      process.execPath,
      // A hung test fails after 5 minutes instead of stalling CI until its deadline.
      [
        "--test",
        "--test-concurrency=3",
        "--test-timeout=300000",
        ...flags,
        ...(files.length ? files : defaultGlobs),
      ],
      { stdio: "inherit", env: { ...process.env, TEST_DATABASE_URL: server.url } },
    );
    // Ctrl-C reaches the child through the terminal; wait for it, then clean up.
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => {});
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
} finally {
  server.stop();
}
process.exit(exitCode);
