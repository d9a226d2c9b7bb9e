/** Recognises failures below HTTP (resets, timeouts, DNS) in the shapes Node and the SDKs throw. */

const transientNetworkCodes = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
  "TimeoutError",
  "RequestTimeout",
  "socket hang up",
]);

/** The network error code of `error` or its causes (`ECONNRESET`, `ENOTFOUND`, …), if any. */
export function networkErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (typeof current === "object") {
      const record = current as { code?: unknown; name?: unknown; message?: unknown };
      if (typeof record.code === "string") {
        if (transientNetworkCodes.has(record.code) || record.code === "ENOTFOUND") {
          return record.code;
        }
      }
      if (record.name === "TimeoutError") return "TimeoutError";
      if (typeof record.message === "string" && /socket hang up/i.test(record.message)) {
        return "ECONNRESET";
      }
      current = (current as { cause?: unknown }).cause;
    } else {
      break;
    }
  }
  return undefined;
}

/**
 * The hint for a failure below HTTP on one of the operator's endpoints (`service`: "AWS", "Google's
 * STS", "Entra ID"…). Every such failure is transient, a name that does not resolve included:
 * these names are the operator's (or the cloud's), not the customer's, and DNS outages pass; the
 * delivery retries within its transient budget. Only a name that is the customer's resource (an
 * Azure storage account) means "not found", and its classifier says so before calling this.
 */
export function networkFailureHint(code: string, service: string): string {
  return code === "ENOTFOUND" || code === "EAI_AGAIN"
    ? `the name of ${service}'s endpoint does not resolve (DNS); the relay retries: the operator should check the relay host's DNS and the endpoint settings`
    : `the connection to ${service} failed; the relay retries`;
}

/** The plain message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
