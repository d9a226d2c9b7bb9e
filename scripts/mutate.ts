/**
 * The mutation check (`npm run mutate`; docs/testing.md): for each critical module, apply a few
 * deliberate bugs (text replacements defined below) one at a time, run only the tests that cover
 * that module, and count the mutant killed (a test failed) or survived (every test passed). The
 * file is restored after each mutant, and on Ctrl-C or a crash. Not in CI: it runs the suites
 * once per mutant.
 *
 *   npm run mutate                 every mutant
 *   npm run mutate -- retry ssrf   only mutants whose module or name contains one of the words
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

interface Mutant {
  /** What the bug is. */
  name: string;
  /** The text replaced (must occur exactly once in the file) and its replacement. */
  find: string;
  replace: string;
}

interface Module {
  name: string;
  file: string;
  /** The test files that cover the module. */
  tests: string[];
  /** Optional node:test name pattern narrowing those files to the relevant tests. */
  pattern?: string;
  mutants: Mutant[];
}

const modules: Module[] = [
  {
    name: "queue claim/fence",
    file: "src/delivery/queue.ts",
    tests: ["src/delivery/queue.test.ts", "test/e2e/delivery-stale-worker.test.ts"],
    mutants: [
      {
        name: "outcome not fenced by the lease token",
        find: `const fence = "WHERE id = $1 AND lease_token = $2 AND state = 'running'";`,
        replace: `const fence = "WHERE id = $1 AND state = 'running' AND $2::uuid IS NOT NULL";`,
      },
      {
        name: "lease renewal not fenced by the lease token",
        find: "SET lease_expires_at = $3\n     WHERE id = $1 AND lease_token = $2 AND state = 'running'",
        replace:
          "SET lease_expires_at = $3\n     WHERE id = $1 AND $2::uuid IS NOT NULL AND state = 'running'",
      },
      {
        name: "a running delivery is claimed before its lease lapsed",
        find: "(state = 'running' AND lease_expires_at <= $4)",
        replace: "(state = 'running' AND lease_expires_at <= $4::timestamptz + interval '1 hour')",
      },
      {
        name: "claim does not count the attempt",
        find: "SET state = 'running', attempts = attempts + 1, locked_by = $1,",
        replace: "SET state = 'running', attempts = attempts, locked_by = $1,",
      },
      {
        name: "a queued delivery is claimed before it is due",
        find: "(state = 'queued' AND run_at <= $4)",
        replace: "(state = 'queued')",
      },
    ],
  },
  {
    name: "delivered outcome fence",
    file: "src/delivery/outcome.ts",
    tests: ["src/delivery/queue.test.ts", "test/e2e/delivery-stale-worker.test.ts"],
    mutants: [
      {
        name: "delivered end not fenced by the lease token",
        find: "WHERE id = $1 AND lease_token = $2 AND state = 'running'\n       RETURNING id),",
        replace:
          "WHERE id = $1 AND $2::uuid IS NOT NULL AND state = 'running'\n       RETURNING id),",
      },
      {
        name: "recording marked delivered even when the fence refused",
        find: "WHERE id = $6 AND EXISTS (SELECT 1 FROM finished)",
        replace: "WHERE id = $6",
      },
    ],
  },
  {
    name: "ingest offsets",
    file: "src/recordings/store.ts",
    tests: ["test/e2e/recordings.test.ts"],
    pattern: "Upload-Offset|retries appends|bad ingest requests",
    mutants: [
      {
        name: "append lease taken at any offset",
        find: "WHERE id = $1 AND state = 'receiving' AND bytes_received = $2\n       AND (append_token IS NULL OR append_lease_expires_at <= $4)`",
        replace:
          "WHERE id = $1 AND state = 'receiving' AND $2::bigint IS NOT NULL\n       AND (append_token IS NULL OR append_lease_expires_at <= $4)`",
      },
      {
        name: "append lease taken while another append holds it",
        find: "AND (append_token IS NULL OR append_lease_expires_at <= $4)`,\n    [id, offset, token,",
        replace:
          "AND (append_token IS NULL OR $4::timestamptz IS NOT NULL)`,\n    [id, offset, token,",
      },
      {
        name: "commit not fenced by the append token",
        find: "WHERE id = $1 AND append_token = $2 AND state = 'receiving'`,\n    [id, token, bytesReceived,",
        replace:
          "WHERE id = $1 AND $2::uuid IS NOT NULL AND state = 'receiving'`,\n    [id, token, bytesReceived,",
      },
    ],
  },
  {
    name: "ingest offsets (check)",
    file: "src/ingest/ingest.ts",
    tests: ["test/e2e/recordings.test.ts"],
    pattern: "Upload-Offset|retries appends|bad ingest requests",
    mutants: [
      {
        name: "offset check off by one byte",
        find: "if (offset !== recording.bytesReceived) {",
        replace:
          "if (offset !== recording.bytesReceived && offset !== recording.bytesReceived + 1) {",
      },
      {
        name: "new offset ignores the bytes written",
        find: "const newOffset = offset + bytesWritten;",
        replace: "const newOffset = offset + bytesWritten - (bytesWritten > 1 ? 1 : 0);",
      },
    ],
  },
  {
    name: "SSRF guard",
    file: "src/webhooks/ssrf.ts",
    tests: ["test/integration/webhooks.test.ts"],
    pattern: "internal|admitted|rebound|https only",
    mutants: [
      {
        name: "connect-time lookup unfiltered",
        find: "return reason === undefined && (!options.family || options.family === entry.family);",
        replace: "return !options.family || options.family === entry.family;",
      },
      {
        name: "connect-time lookup hands every address on (mixed answers dialled)",
        find: "            null,\n            usable,\n",
        replace: "            null,\n            addresses,\n",
      },
      {
        name: "http accepted without the operator's setting",
        find: `if (parsed.protocol !== "https:" && !(policy.allowHttp && parsed.protocol === "http:")) {`,
        replace: `if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {`,
      },
      {
        name: "internal host names not refused at send time",
        find: "const problem = callbackHostProblem(parsed.hostname, policy.allowed);",
        replace: "const problem = undefined as string | undefined;",
      },
    ],
  },
  {
    name: "SSRF address rules",
    file: "src/domain/callback-address.ts",
    tests: ["src/domain/callback-address.test.ts"],
    mutants: [
      {
        name: "allowed networks admit everything",
        find: "if (allowed.list.check(ip, type)) return undefined;",
        replace: "if (allowed.list.check(ip, type) || true) return undefined;",
      },
      {
        name: "internal names not recognised",
        find: "return internalNames.some((pattern) => pattern.test(name));",
        replace: "return internalNames.slice(1).some((pattern) => pattern.test(name));",
      },
    ],
  },
  {
    name: "webhook signing",
    file: "src/webhooks/signing.ts",
    tests: ["test/integration/webhooks.test.ts"],
    pattern: "verifiable|both secrets|at most the current",
    mutants: [
      {
        name: "timestamp left out of the signed content",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text being mutated.
        find: '.update(`${id}.${timestampSeconds}.${body}`, "utf8")',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text being mutated.
        replace: '.update(`${id}.${body}`, "utf8")',
      },
      {
        name: "secret used as text instead of its base64 bytes",
        find: `return Buffer.from(secret.slice(SECRET_PREFIX.length), "base64");`,
        replace: `return Buffer.from(secret.slice(SECRET_PREFIX.length), "utf8");`,
      },
      {
        name: "only the first secret signs during a rotation",
        find: '    "webhook-signature": secrets\n      .map(',
        replace: '    "webhook-signature": secrets\n      .slice(0, 1)\n      .map(',
      },
    ],
  },
  {
    name: "retry policy",
    file: "src/delivery/retry-policy.ts",
    tests: ["src/delivery/retry-policy.test.ts", "test/e2e/recordings.test.ts"],
    pattern: "retry policy|setup failure",
    mutants: [
      {
        name: "setup failures never retried",
        find: "  if (setupCodes.has(code)) {",
        replace: "  if (false && setupCodes.has(code)) {",
      },
      {
        name: "transient budget ignored",
        find: "if (elapsedMs + delayMs > settings.budgetMs)",
        replace: "if (elapsedMs + delayMs > settings.budgetMs * 2)",
      },
      {
        name: "setup budget uses the transient one",
        find: "if (elapsedMs + delayMs > settings.configBudgetMs) return",
        replace: "if (elapsedMs + delayMs > settings.budgetMs) return",
      },
      {
        name: "a transient failure past budget keeps its own code",
        find: `return { kind: "give_up", code: "DESTINATION_UNAVAILABLE" };`,
        replace: `return { kind: "give_up", code };`,
      },
      {
        name: "setup failures back off from the transient base",
        find: "      baseMs: settings.configBaseMs,",
        replace: "      baseMs: settings.baseMs,",
      },
    ],
  },
  {
    name: "backoff (full jitter)",
    file: "src/lib/backoff.ts",
    tests: ["src/lib/backoff.test.ts", "src/delivery/retry-policy.test.ts"],
    mutants: [
      {
        name: "no jitter",
        find: "return Math.floor(random() * ceilingMs);",
        replace: "return Math.floor(ceilingMs - 1);",
      },
      {
        name: "no cap",
        find: "const ceilingMs = Math.min(capMs, baseMs",
        replace: "const ceilingMs = Math.max(capMs, baseMs",
      },
    ],
  },
  {
    name: "emulator trust (AWS)",
    file: "emulators/aws/trust.ts",
    tests: ["emulators/aws/sts.test.ts", "emulators/aws/web-identity.test.ts"],
    mutants: [
      {
        name: "a missing condition key passes",
        find: "if (actual === undefined) return false;",
        replace: "if (actual === undefined) return true;",
      },
      {
        name: "StringEquals compares nothing",
        find: 'operator === "StringLike" ? wildcardMatch(value, actual) : value === actual,',
        replace: 'operator === "StringLike" ? wildcardMatch(value, actual) : true,',
      },
      {
        name: "account principal matches any account",
        find: "if (/^\\d{12}$/.test(entry)) return entry === caller.accountId;",
        replace: "if (/^\\d{12}$/.test(entry)) return true;",
      },
    ],
  },
  {
    name: "emulator trust (GCP)",
    file: "emulators/gcp/principals.ts",
    tests: ["emulators/gcp/sts.test.ts", "emulators/gcp/iam-credentials.test.ts"],
    mutants: [
      {
        name: "attribute principal matches any value",
        find: "if (attribute) return principal.attributes[attribute[1]!] === attribute[2];",
        replace: "if (attribute) return attribute[1] !== undefined;",
      },
    ],
  },
  {
    name: "emulator trust (GCP condition)",
    file: "emulators/gcp/sts.ts",
    tests: ["emulators/gcp/sts.test.ts"],
    mutants: [
      {
        name: "the provider's attribute condition (customer_id) not evaluated",
        find: "  if (provider.attributeCondition !== undefined) {",
        replace: "  if (false && provider.attributeCondition !== undefined) {",
      },
    ],
  },
  {
    name: "emulator trust (Azure)",
    file: "emulators/azure/entra.ts",
    tests: ["emulators/azure/entra.test.ts"],
    mutants: [
      {
        name: "federated credential subject not compared",
        find: "const bySubject = byIssuer.filter((c) => c.credential.subject === sub);",
        replace: "const bySubject = byIssuer;",
      },
      {
        name: "federated credential issuer not compared",
        find: "const byIssuer = credentials.filter((c) => c.credential.issuer === iss);",
        replace: "const byIssuer = credentials;",
      },
    ],
  },
];

const filters = process.argv.slice(2).map((word) => word.toLowerCase());
const selected = modules
  .map((module) => ({
    ...module,
    mutants: module.mutants.filter(
      (mutant) =>
        filters.length === 0 ||
        filters.some(
          (word) =>
            module.name.toLowerCase().includes(word) || mutant.name.toLowerCase().includes(word),
        ),
    ),
  }))
  .filter((module) => module.mutants.length > 0);

// The file being mutated right now and its original text, restored whatever ends the run; and
// the test run in progress, stopped on Ctrl-C.
let pending: { file: string; original: string } | undefined;
let running: ChildProcess | undefined;
function restore(): void {
  if (!pending) return;
  writeFileSync(pending.file, pending.original);
  pending = undefined;
}
process.on("exit", restore);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    restore();
    running?.kill("SIGINT");
    process.stdout.write(`\n${signal}: restored the mutated file; stopping.\n`);
    process.exit(130);
  });
}

interface Result {
  module: string;
  mutant: string;
  outcome: "killed" | "survived";
  seconds: number;
}
const results: Result[] = [];

for (const module of selected) {
  const original = readFileSync(module.file, "utf8");
  for (const mutant of module.mutants) {
    const at = original.indexOf(mutant.find);
    if (at < 0 || original.indexOf(mutant.find, at + 1) >= 0) {
      restore();
      throw new Error(
        `${module.file}: the text of mutant "${mutant.name}" must occur exactly once (the source changed?)`,
      );
    }
    pending = { file: module.file, original };
    writeFileSync(
      module.file,
      original.slice(0, at) + mutant.replace + original.slice(at + mutant.find.length),
    );
    const started = Date.now();
    const status = await new Promise<number | null>((resolve) => {
      running = spawn(
        process.execPath,
        [
          "test/run.ts",
          ...(module.pattern ? [`--test-name-pattern=${module.pattern}`] : []),
          ...module.tests,
        ],
        { stdio: "ignore", env: process.env },
      );
      running.on("exit", (code) => resolve(code));
    });
    running = undefined;
    restore();
    const result: Result = {
      module: module.name,
      mutant: mutant.name,
      outcome: status === 0 ? "survived" : "killed",
      seconds: Math.round((Date.now() - started) / 1000),
    };
    results.push(result);
    process.stdout.write(
      `${result.outcome === "killed" ? "killed  " : "SURVIVED"}  ${module.name}: ${mutant.name} (${result.seconds} s)\n`,
    );
  }
}

const killed = results.filter((r) => r.outcome === "killed").length;
process.stdout.write(
  `\nmutation score: ${killed}/${results.length} killed (${results.length ? Math.round((100 * killed) / results.length) : 0} %)\n`,
);
for (const r of results.filter((r) => r.outcome === "survived")) {
  process.stdout.write(`  survived: ${r.module}: ${r.mutant}\n`);
}
process.exitCode = killed === results.length ? 0 : 1;
