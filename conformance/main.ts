/**
 * `npm run conformance [-- --local]`: the customer journey against real AWS, GCP and Azure
 * accounts (each one whose variables are set), or against the emulators with `--local`.
 * docs/conformance.md says what it needs, costs and guarantees. Exit 0 when every step that ran
 * passed (or nothing was configured), 1 when a step failed or something could not be removed,
 * 130 after Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { Cleanups } from "./cleanup.ts";
import { awsCustomer } from "./clouds/aws.ts";
import { azureCustomer } from "./clouds/azure.ts";
import type { CloudContext } from "./clouds/context.ts";
import { gcpCustomer } from "./clouds/gcp.ts";
import { checkPublicIssuer } from "./issuer.ts";
import { type Customer, type Patience, runJourney } from "./journey.ts";
import { localClouds } from "./local.ts";
import { type Relay, startRelay } from "./relay.ts";
import { Report, stepNames } from "./report.ts";
import { issuerSettings, missingFor, providerSettings, secondsFrom } from "./settings.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
const args = process.argv.slice(2);
const unknown = args.filter((arg) => arg !== "--local");
if (unknown.length > 0) {
  process.stderr.write(
    `unknown argument(s): ${unknown.join(" ")}; usage: npm run conformance [-- --local]\n`,
  );
  process.exit(2);
}
const local = args.includes("--local");
const env = process.env;
const report = new Report(say);
const cleanups = new Cleanups(say);
const abort = new AbortController();
let interrupted = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (interrupted) {
      say(`${signal} again: still removing what the kit created; left so far:`);
      for (const item of cleanups.pending)
        say(`  ${item.what}${item.manually ? ` (${item.manually})` : ""}`);
      return;
    }
    interrupted = true;
    say(`${signal}: stopping, then removing everything the kit created`);
    abort.abort(new Error(`interrupted by ${signal}`));
  });
}
const interruption = new Promise<never>((_, reject) => {
  abort.signal.addEventListener("abort", () => reject(abort.signal.reason), { once: true });
});
interruption.catch(() => {});

let exitCode = 0;
const journey = local ? runLocal() : runClouds();
try {
  await Promise.race([journey, interruption]);
} catch (error) {
  if (!interrupted) {
    say(`conformance stopped: ${error instanceof Error ? error.message : String(error)}`);
    exitCode = 1;
  } else {
    // Let the step in flight see the abort and settle (Terraform saves its state, a request in
    // flight ends), so nothing it creates appears after the cleanups ran; at most a minute.
    await Promise.race([journey.catch(() => {}), new Promise((r) => setTimeout(r, 60_000))]);
  }
} finally {
  const left = await cleanups.runAll();
  if (left.length > 0) exitCode = 1;
  if (report.rows.length > 0) {
    say();
    say(report.table());
  }
  if (report.failed) exitCode = 1;
  if (interrupted) exitCode = 130;
  say();
  say(exitCode === 0 ? "conformance: PASS" : `conformance: FAIL (exit ${exitCode})`);
}
process.exit(exitCode);

/** Every provider of the emulators, steps 2–5. */
async function runLocal(): Promise<void> {
  say("conformance, local mode: the emulators' ready-made customers stand in for step 1.");
  const clouds = localClouds(cleanups);
  const relay = await startRelay(clouds.relayOptions, cleanups);
  const patience: Patience = {
    propagationMs: 10_000,
    pollMs: 200,
    settledAfter: 1,
    recordingBytes: 12 * 1024 * 1024,
    deliveryMs: 60_000,
  };
  for (const customer of clouds.customers()) {
    report.skip(
      customer.provider,
      "create customer",
      "local mode: the emulator's ready-made customer",
    );
    const own = new Cleanups(say);
    own.add({
      what: `the emulated ${customer.provider} trust (restored)`,
      run: () => customer.restoreTrust(),
    });
    await journeyAndDestroy(relay, customer, own, patience);
  }
}

async function journeyAndDestroy(
  relay: Relay,
  customer: Customer | undefined,
  own: Cleanups,
  patience: Patience,
  provider = customer?.provider ?? "",
): Promise<void> {
  try {
    if (customer) {
      await runJourney(relay, customer, report, patience, abort.signal, say);
    }
  } catch {
    // Recorded in the report; the next provider still runs.
  } finally {
    await report
      .step(provider, "destroy", async () => {
        const left = await own.runAll();
        if (left.length > 0) throw new Error(`left behind: ${left.map((l) => l.what).join(", ")}`);
      })
      .catch(() => {});
  }
}

/** Each provider whose variables are set, steps 1–5, against real accounts. */
async function runClouds(): Promise<void> {
  const configured = providerSettings.filter((settings) => {
    const missing = missingFor(settings, env);
    if (missing.length > 0) {
      say(`${settings.label}: skipped, missing ${missing.join("; ")}`);
      return false;
    }
    say(`${settings.label}: configured`);
    return true;
  });
  if (configured.length === 0) {
    say();
    say("No provider is configured: nothing was created. docs/conformance.md lists the variables;");
    say("`npm run conformance -- --local` runs the same journey against the emulators.");
    return;
  }
  const issuer = issuerSettings(env);
  if (typeof issuer === "string") throw new Error(issuer);
  const patience: Patience = {
    propagationMs: secondsFrom(env, "CONFORMANCE_PROPAGATION_SECONDS", 600) * 1000,
    pollMs: 15_000,
    settledAfter: 2,
    recordingBytes: 12 * 1024 * 1024,
    deliveryMs: 300_000,
  };
  const relay = await startRelay(
    {
      port: issuer.port,
      issuerUrl: () => issuer.issuerUrl,
      env: () => ({ RELAY_LOG_LEVEL: "warn" }),
    },
    cleanups,
  );
  say(`relay on ${relay.url}, workspace ${relay.workspaceId}, issuer ${issuer.issuerUrl}`);
  await checkPublicIssuer(issuer.issuerUrl, relay.url);
  say(`issuer check: ${issuer.issuerUrl}/.well-known/openid-configuration reaches this relay`);
  const suffix = randomBytes(4).toString("hex");
  const context: CloudContext = { relay, env, say, signal: abort.signal, suffix };
  const create = { s3: awsCustomer, gcs: gcpCustomer, azure_blob: azureCustomer };
  for (const settings of configured) {
    const own = new Cleanups(say);
    // Also on Ctrl-C, when this loop may be stuck in a step: the global cleanups run it then.
    cleanups.add({
      what: `what the ${settings.label} customer still holds`,
      run: async () => {
        const left = await own.runAll();
        if (left.length > 0) throw new Error(left.map((l) => l.what).join(", "));
      },
    });
    let customer: Customer | undefined;
    try {
      customer = await report.step(settings.provider, "create customer", () =>
        create[settings.provider](context, own),
      );
    } catch {
      for (const step of stepNames.slice(1, -1)) {
        report.skip(settings.provider, step, "the customer could not be created");
      }
    }
    await journeyAndDestroy(relay, customer, own, patience, settings.provider);
    abort.signal.throwIfAborted();
  }
}
