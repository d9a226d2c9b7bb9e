/**
 * The issuer URL in force. Configured, it is used as is. Unset, it is derived from the address
 * `serve` listens on, so a relay started on another port names itself in its discovery document,
 * JWKS URI and setup guides (before, it kept `http://localhost:8080` and named a relay nobody
 * served). A derived issuer is for local use: clouds need a public https one.
 */
import { createServer } from "node:net";
import type { Config } from "../config/index.ts";

/** The issuer URL and whether it was derived rather than configured. */
export interface IssuerUrl {
  url: string;
  derived: boolean;
}

const loopbackOrAny = new Set(["127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""]);

/** The configured issuer, or `http://<host>:<port>` of the listen address. */
export function issuerUrlOf(config: Pick<Config, "issuerUrl" | "host" | "port">): IssuerUrl {
  if (config.issuerUrl) return { url: config.issuerUrl, derived: false };
  const host = loopbackOrAny.has(config.host)
    ? "localhost"
    : config.host.includes(":")
      ? `[${config.host}]`
      : config.host;
  return { url: `http://${host}:${config.port}`, derived: true };
}

/**
 * With `--port 0` and no issuer configured, the port must be known before the issuer exists: take
 * a free one now (the instant between closing it and listening again is the only race, and a
 * taken port then fails loudly with ADDRESS_IN_USE).
 */
export async function withConcretePort<T extends Pick<Config, "issuerUrl" | "host" | "port">>(
  config: T,
): Promise<T> {
  if (config.issuerUrl || config.port !== 0) return config;
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, config.host, resolve);
  });
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return { ...config, port };
}

/** Whether `url` names this machine (localhost, 127.0.0.0/8, ::1). */
function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return (
    host === "localhost" || host.endsWith(".localhost") || host === "::1" || /^127\./.test(host)
  );
}

/**
 * What `serve` prints about its issuer: the URL, whether it was derived, and a warning when it is
 * plain http on an address beyond this machine (Google, AWS and Entra accept https issuers only).
 */
export function describeIssuer(issuer: IssuerUrl): string {
  const lines = [
    issuer.derived
      ? `OIDC issuer: ${issuer.url} (derived from the listen address: fine on this machine, but clouds need RELAY_ISSUER_URL set to a public https URL that reaches this relay)`
      : `OIDC issuer: ${issuer.url}`,
  ];
  const url = new URL(issuer.url);
  if (url.protocol === "http:" && !isLoopback(url)) {
    lines.push(
      'WARNING: the OIDC issuer is http, not https: Google Workload Identity Federation, AWS IAM OIDC providers and Microsoft Entra federated credentials refuse it, so GCS, Azure and S3 web identity deliveries cannot work. Put a reverse proxy with TLS in front of the relay and set RELAY_ISSUER_URL to its https URL (docs/operations.md, "Exposing the issuer").',
    );
  }
  return lines.join("\n");
}
