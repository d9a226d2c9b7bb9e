/**
 * Refusing secrets by construction (docs/api.md, recording_storage): nothing a customer configures is ever a credential,
 * so anything that looks like one — by its field name or by the shape of its value, anywhere in
 * the object, and anywhere inside a string (each `/` segment of a path, each query value and name,
 * the user information of a URL) — is refused before any other rule runs. That keeps stored configuration safe to log
 * and to show back in full, and tells a customer who pasted a key that we do not want it.
 */

/** The message every refusal carries (docs/api.md, recording_storage). */
export const SECRET_REFUSED = "secrets are not accepted: use federated identity";

/** A credential-looking field or value, with what it looks like. */
export interface SecretFinding {
  /** Dotted path of the field, e.g. `properties.recording_storage.secret_access_key`. */
  field: string;
  /** What it looks like, in words, e.g. "an AWS access key id". */
  looksLike: string;
}

// Field names, compared without case, `_`, `-` or spaces: a name containing any of these parts is
// a credential. None of them occurs in a legitimate field (`key_template`, `client_id`,
// `storage_account`, `service_account_email` do not match).
const secretNameParts: [string, string][] = [
  ["secret", "a secret"],
  ["password", "a password"],
  ["passwd", "a password"],
  ["accesskey", "an access key"],
  ["sessiontoken", "a session token"],
  ["securitytoken", "a session token"],
  ["accesstoken", "an access token"],
  ["refreshtoken", "a refresh token"],
  ["idtoken", "an identity token"],
  ["bearertoken", "a bearer token"],
  ["connectionstring", "a connection string"],
  ["connstr", "a connection string"],
  ["sastoken", "a SAS token"],
  ["sasurl", "a SAS URL"],
  ["sasuri", "a SAS URL"],
  ["accountkey", "a storage account key"],
  ["storagekey", "a storage account key"],
  ["sharedkey", "a storage account key"],
  ["privatekey", "a private key"],
  ["credential", "a credential"],
  ["apikey", "an API key"],
  ["authorization", "an authorization header"],
  ["keyfile", "a key file"],
  ["keyjson", "a service account key"],
  ["serviceaccountkey", "a service account key"],
];
// Whole names that are credentials on their own but too short to match as parts.
const secretNames: Record<string, string> = {
  token: "a token",
  sas: "a SAS token",
  sig: "a SAS signature",
  key: "a key",
  pem: "a private key",
  p12: "a private key",
  pfx: "a private key",
};

function nameLooksLike(name: string): string | undefined {
  const normalized = name.toLowerCase().replace(/[\s_-]/g, "");
  if (secretNames[normalized]) return secretNames[normalized];
  for (const [part, looksLike] of secretNameParts) {
    if (normalized.includes(part)) return looksLike;
  }
  return undefined;
}

// Value shapes found anywhere in a string: each is the documented or well-known format of one
// kind of credential, with its own delimiters, so it cannot be a piece of an ordinary name.
const embeddedShapes: [RegExp, string][] = [
  [/(?:^|[^A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/, "an AWS access key id"],
  [/(?:^|[^A-Za-z0-9+])(?:FwoGZXIvYXdz|IQoJb3JpZ2lu)[A-Za-z0-9+/=]{20,}/, "an AWS session token"],
  [/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/, "a private key"],
  [
    /(?:^|[;?&])\s*(?:AccountKey|SharedAccessSignature|SharedAccessKey)\s*=/i,
    "a connection string",
  ],
  [/DefaultEndpointsProtocol\s*=/i, "a connection string"],
  [/(?:^|[?&#])sig=[^&]+/, "a SAS token"],
  [/"(?:private_key|private_key_id)"\s*:/, "a service account key"],
  [/"type"\s*:\s*"service_account"/, "a service account key"],
  [
    /(?:^|[^A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/,
    "a signed token (JWT)",
  ],
  [
    /(?:^|[^A-Za-z0-9_])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})/,
    "a GitHub token",
  ],
  [/(?:^|[^A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/, "a Google API key"],
];

// Shapes of one whole piece of a string (the string itself, a path segment, a query value…).
const pieceShapes: [RegExp, string][] = [
  [/^[A-Za-z0-9+/]{86}==$/, "a storage account key"],
  [/^ya29\.[0-9A-Za-z_-]{20,}$/, "a Google access token"],
  [/^[A-Za-z0-9_.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}$/, "an Entra ID client secret"],
];

/** Bits of Shannon entropy per character: random keys score high, words and paths low. */
function entropyPerCharacter(value: string): number {
  const counts = new Map<string, number>();
  for (const character of value) counts.set(character, (counts.get(character) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/**
 * How evenly letter case is mixed: the smaller of P(upper after upper) and P(upper after lower)
 * over adjacent letters. Random base64 scores about 0.5; words, paths, CamelCase (an upper letter
 * is nearly always followed by a lower one) and ALL-CAPS parts score near 0.
 */
function caseMixing(value: string): number {
  let upperUpper = 0;
  let upperLower = 0;
  let lowerUpper = 0;
  let lowerLower = 0;
  for (let i = 1; i < value.length; i++) {
    const a = value[i - 1]!;
    const b = value[i]!;
    if (!/[A-Za-z]/.test(a) || !/[A-Za-z]/.test(b)) continue;
    const aUpper = a === a.toUpperCase();
    const bUpper = b === b.toUpperCase();
    if (aUpper && bUpper) upperUpper++;
    else if (aUpper) upperLower++;
    else if (bUpper) lowerUpper++;
    else lowerLower++;
  }
  const afterUpper = upperUpper + upperLower;
  const afterLower = lowerUpper + lowerLower;
  if (afterUpper === 0 || afterLower === 0) return 0;
  return Math.min(upperUpper / afterUpper, lowerUpper / afterLower);
}

const looksRandom = (value: string, minBits: number) =>
  /[A-Z]/.test(value) &&
  /[a-z]/.test(value) &&
  /\d/.test(value) &&
  caseMixing(value) >= 0.2 &&
  entropyPerCharacter(value) > minBits;

/** What one piece of a string (no separators left in it) looks like, if a credential. */
function pieceLooksLike(piece: string): string | undefined {
  for (const [shape, looksLike] of pieceShapes) {
    if (shape.test(piece)) return looksLike;
  }
  // An AWS secret access key is 40 base64 characters; that shape alone would also match a
  // 40-character name, so the value must also look random.
  if (/^[A-Za-z0-9/+]{40}$/.test(piece) && looksRandom(piece, 4)) {
    return "an AWS secret access key";
  }
  // Any other long random base64 blob (session tokens, keys of other shapes).
  if (/^[A-Za-z0-9+/_-]{64,}={0,2}$/.test(piece) && looksRandom(piece, 4.3)) {
    return "a token or key";
  }
  // 32 or more random characters: client secrets (Entra's older 32-character shape), API keys.
  if (/^[A-Za-z0-9+/_.~-]{32,}={0,2}$/.test(piece) && looksRandom(piece, 4)) {
    return "a client secret or key";
  }
  return undefined;
}

/**
 * 64 or more hex digits standing alone (a 256-bit key), wherever they are (`rec/<hex>.mp4`):
 * mixing digits and letters, not a run of one character.
 */
function hasHexKey(text: string): boolean {
  return (text.match(/(?<![0-9A-Za-z])[0-9a-fA-F]{64,}(?![0-9A-Za-z])/g) ?? []).some(
    (hex) => /\d/.test(hex) && /[a-f]/i.test(hex) && entropyPerCharacter(hex) > 3,
  );
}

/**
 * An AWS secret access key may itself hold `/`, so inside a path it spans segments:
 * `rec/wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY/{epoch_ms}`. Every 40-character stretch of the
 * base64 alphabet that starts and ends at a segment boundary and has at most three `/` is judged.
 */
function spansAwsSecretKey(text: string): boolean {
  for (const run of text.match(/[A-Za-z0-9+/]{40,}/g) ?? []) {
    for (let start = 0; start + 40 <= run.length; start++) {
      if (start > 0 && run[start - 1] !== "/") continue;
      const end = start + 40;
      if (end < run.length && run[end] !== "/") continue;
      const window = run.slice(start, end);
      if (window.startsWith("/") || window.endsWith("/") || window.includes("//")) continue;
      if ((window.match(/\//g) ?? []).length > 3) continue;
      if (looksRandom(window, 4)) return true;
    }
  }
  return false;
}

function decoded(text: string): string {
  try {
    return decodeURIComponent(text.replace(/\+/g, " "));
  } catch {
    return text;
  }
}

/**
 * The texts of a string worth judging whole: the string, its percent-decoded form, and of each
 * the pieces between separators (`/` segments, placeholders `{…}`, query pairs and their names and
 * values, `user:password@`).
 */
function piecesOf(value: string): Set<string> {
  const pieces = new Set<string>();
  for (const text of new Set([value, decoded(value)])) {
    pieces.add(text);
    for (const part of text.split(/[/{}?&;,#\s]+/)) {
      if (!part) continue;
      pieces.add(part);
      const equals = part.indexOf("=");
      if (equals > 0) pieces.add(part.slice(equals + 1));
      for (const sub of part.split(/[:@]/)) if (sub) pieces.add(sub);
    }
  }
  return pieces;
}

/** Query parameter names of a URL-shaped string, judged like field names. */
function queryNameLooksLike(value: string): string | undefined {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || !URL.canParse(value)) return undefined;
  const url = new URL(value);
  const query = new URLSearchParams(url.search);
  if (url.hash.includes("=")) {
    for (const [name, item] of new URLSearchParams(url.hash.slice(1))) query.append(name, item);
  }
  for (const name of query.keys()) {
    const looksLike = nameLooksLike(name);
    if (looksLike) return looksLike;
  }
  return undefined;
}

function valueLooksLike(value: string): string | undefined {
  const texts = new Set([value, decoded(value)]);
  for (const text of texts) {
    for (const [shape, looksLike] of embeddedShapes) {
      if (shape.test(text)) return looksLike;
    }
  }
  const byName = queryNameLooksLike(value);
  if (byName) return byName;
  for (const piece of piecesOf(value)) {
    const looksLike = pieceLooksLike(piece);
    if (looksLike) return looksLike;
  }
  for (const text of texts) {
    if (spansAwsSecretKey(text)) return "an AWS secret access key";
    if (hasHexKey(text)) return "a hex key";
  }
  return undefined;
}

/**
 * Looks for a credential in `value` (field names and string values, recursively) and returns the
 * first finding, or `undefined`. `path` is the dotted path of `value` itself.
 */
export function findSecret(
  value: unknown,
  path: string,
  options: { names?: boolean; values?: boolean } = {},
): SecretFinding | undefined {
  const { names = true, values = true } = options;
  if (typeof value === "string") {
    const looksLike = values ? valueLooksLike(value) : undefined;
    return looksLike ? { field: path, looksLike } : undefined;
  }
  if (Array.isArray(value)) {
    for (const [index, item] of value.entries()) {
      const found = findSecret(item, `${path}[${index}]`, options);
      if (found) return found;
    }
    return undefined;
  }
  if (value !== null && typeof value === "object") {
    for (const [name, item] of Object.entries(value)) {
      const field = path ? `${path}.${name}` : name;
      const byName = names ? nameLooksLike(name) : undefined;
      if (byName) return { field, looksLike: byName };
      const found = findSecret(item, field, options);
      if (found) return found;
    }
  }
  return undefined;
}

/** The full refusal message for a finding. */
export function secretMessage(finding: SecretFinding): string {
  return `${SECRET_REFUSED} (this looks like ${finding.looksLike}; the relay needs only the non-secret identifiers of a trust you configure on your side)`;
}
