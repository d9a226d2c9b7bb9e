/**
 * The start-up self-check (docs/operations.md, Self-check): problems of the operator's own setup
 * that would otherwise surface later as customers' failures. Printed at start and shown in
 * `/readyz` as warnings; none of them stops the relay or makes it unready.
 */
import { stat } from "node:fs/promises";
import { DISCOVERY_PATH, type JwksDocument } from "../oidc/index.ts";

/** One problem found. */
export interface SelfCheckFinding {
  check: "aws_credentials" | "issuer_scheme" | "issuer_discovery" | "master_key_permissions";
  /** `NOT_CONFIGURED`: a setting or credential is missing; `INSECURE`: it is unsafe as it is. */
  code: "NOT_CONFIGURED" | "INSECURE";
  message: string;
}

/** What the self-check looks at. */
export interface SelfCheckInputs {
  awsAccountId: string | undefined;
  awsAuthMode: "assume_role" | "web_identity";
  issuerUrl: string;
  /** The kid signing now: the issuer URL must serve a JWKS holding it. */
  signingKid: string | undefined;
  /** The master key file, when the key comes from one. */
  masterKeyPath: string | undefined;
  /** Loads the operator's AWS credentials (the SDK's default chain by default). */
  loadAwsCredentials?: () => Promise<unknown>;
  timeoutMs?: number;
}

const loopbackHosts = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/i;

async function withTimeout<T>(work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} took over ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function checkAwsCredentials(inputs: SelfCheckInputs, timeoutMs: number) {
  if (!inputs.awsAccountId || inputs.awsAuthMode !== "assume_role") return undefined;
  const load =
    inputs.loadAwsCredentials ??
    (async () => {
      const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
      return await fromNodeProviderChain({ timeout: timeoutMs, maxRetries: 0 })();
    });
  try {
    await withTimeout(load(), timeoutMs, "looking for AWS credentials");
    return undefined;
  } catch (error) {
    return {
      check: "aws_credentials",
      code: "NOT_CONFIGURED",
      message: `S3 destinations are enabled (RELAY_AWS_ACCOUNT_ID=${inputs.awsAccountId}, RELAY_AWS_AUTH_MODE=assume_role) but the AWS SDK's default chain finds no credentials for the relay (${(error as Error).message}): every S3 delivery and S3 conversation would fail with NOT_CONFIGURED. Give the relay AWS credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_PROFILE, an instance or task role), or set RELAY_AWS_AUTH_MODE=web_identity.`,
    } satisfies SelfCheckFinding;
  }
}

function checkIssuerScheme(inputs: SelfCheckInputs): SelfCheckFinding | undefined {
  const url = new URL(inputs.issuerUrl);
  if (url.protocol !== "http:" || loopbackHosts.test(url.hostname)) return undefined;
  return {
    check: "issuer_scheme",
    code: "INSECURE",
    message: `the OIDC issuer ${inputs.issuerUrl} is plain http on a non-loopback address: clouds require https for the discovery document and JWKS, and anyone on the path could substitute keys. Set RELAY_ISSUER_URL to the https URL of a TLS-terminating proxy in front of the relay.`,
  };
}

/** The issuer URL must answer with this relay's discovery document and a JWKS with its key. */
async function checkIssuerDiscovery(
  inputs: SelfCheckInputs,
  timeoutMs: number,
): Promise<SelfCheckFinding | undefined> {
  const where = `${inputs.issuerUrl}${DISCOVERY_PATH}`;
  const problem = (what: string): SelfCheckFinding => ({
    check: "issuer_discovery",
    code: "NOT_CONFIGURED",
    message: `the issuer URL does not reach this relay: ${what}. Clouds fetch the discovery document and JWKS there to verify the relay's tokens, so GCS, Azure and S3 web identity deliveries would fail. Check RELAY_ISSUER_URL and the proxy routing it to the relay.`,
  });
  try {
    const signal = AbortSignal.timeout(timeoutMs);
    const answer = await fetch(where, { signal, redirect: "manual" });
    if (answer.status !== 200) return problem(`GET ${where} answered ${answer.status}`);
    const discovery = (await answer.json()) as { issuer?: unknown; jwks_uri?: unknown };
    if (discovery.issuer !== inputs.issuerUrl) {
      return problem(
        `GET ${where} names the issuer ${JSON.stringify(discovery.issuer)}, not ${inputs.issuerUrl}`,
      );
    }
    if (typeof discovery.jwks_uri !== "string") return problem(`${where} has no jwks_uri`);
    const jwks = (await (
      await fetch(discovery.jwks_uri, { signal, redirect: "manual" })
    ).json()) as JwksDocument;
    if (inputs.signingKid && !jwks.keys?.some((key) => key.kid === inputs.signingKid)) {
      return problem(
        `the JWKS at ${discovery.jwks_uri} lacks this relay's signing key ${inputs.signingKid} (another relay, or a stale cache, answers there)`,
      );
    }
    return undefined;
  } catch (error) {
    return problem(`GET ${where} failed (${(error as Error).message})`);
  }
}

async function checkMasterKeyFile(inputs: SelfCheckInputs): Promise<SelfCheckFinding | undefined> {
  if (!inputs.masterKeyPath) return undefined;
  try {
    const mode = (await stat(inputs.masterKeyPath)).mode & 0o777;
    if ((mode & 0o077) === 0) return undefined;
    return {
      check: "master_key_permissions",
      code: "INSECURE",
      message: `the master key file ${inputs.masterKeyPath} has mode ${mode.toString(8).padStart(4, "0")}: other local users can read the key that opens the signing keys. Run chmod 600 ${inputs.masterKeyPath} (or set RELAY_MASTER_KEY from a secret store).`,
    };
  } catch {
    return undefined;
  }
}

/** Runs every check (in parallel, each bounded by `timeoutMs`, default 3 s). */
export async function runSelfCheck(inputs: SelfCheckInputs): Promise<SelfCheckFinding[]> {
  const timeoutMs = inputs.timeoutMs ?? 3_000;
  const found = await Promise.all([
    checkAwsCredentials(inputs, timeoutMs),
    checkIssuerScheme(inputs),
    checkIssuerDiscovery(inputs, timeoutMs),
    checkMasterKeyFile(inputs),
  ]);
  return found.filter((finding) => finding !== undefined);
}
