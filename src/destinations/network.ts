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

/** Whether a network code is worth retrying (all but a name that does not resolve). */
export function isTransientNetworkCode(code: string): boolean {
  return code !== "ENOTFOUND";
}

/** The plain message of an unknown thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
