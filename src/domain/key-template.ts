/**
 * Destination key templates (docs/api.md, recording_storage): which templates are accepted,
 * how a recording's key is rendered from one, and the static prefix the customer's permission
 * must cover.
 */

/** The default template: the seed platform's key shape, no file extension. */
export const SEED_DEFAULT_KEY_TEMPLATE = "tavus/{conversation_id}/{epoch_ms}";

/** Longest template accepted, in characters (seed). */
export const MAX_KEY_TEMPLATE_LENGTH = 512;

/**
 * Longest rendered key, in bytes: S3 and GCS object names and Azure blob names are all limited to
 * 1024, so a template that could render longer is refused when saved rather than at delivery.
 */
export const MAX_KEY_LENGTH = 1024;

/** The tokens substituted at copy time, with the longest value each can take. */
const tokens = {
  // A UUID.
  conversation_id: 36,
  // Milliseconds since 1970 stay 13 digits until the year 2286.
  epoch_ms: 13,
} as const;

/** A token name. */
export type KeyToken = keyof typeof tokens;

/**
 * The seed writes the character class as `[0-9A-Za-z./_-{}]`; read as a list (digits, letters,
 * `.`, `/`, `_`, `-`, `{`, `}`), not as the regex range `_-{` that would also admit a backtick.
 */
const allowedCharacter = /^[0-9A-Za-z./_\-{}]$/;

/**
 * Checks a template against the seed's rules. Returns the first broken rule in plain words, or
 * `undefined` when the template is valid.
 */
export function keyTemplateProblem(template: string): string | undefined {
  if (template.length === 0) return "must not be empty";
  if (template.length > MAX_KEY_TEMPLATE_LENGTH) {
    return `must be at most ${MAX_KEY_TEMPLATE_LENGTH} characters (it has ${template.length})`;
  }
  for (const character of template) {
    if (!allowedCharacter.test(character)) {
      return `may contain only letters, digits, . / _ - and the tokens {conversation_id} and {epoch_ms}; found ${describeCharacter(character)}`;
    }
  }
  // Object stores differ on the segments a path would collapse: GCS refuses `.` and `..`
  // segments, S3 and Azure keep them but tools and path-style clients resolve them away. A
  // placeholder never renders empty or as dots, so the literal text alone decides.
  if (template.startsWith("/")) return "must not start with /";
  if (template.endsWith("/")) return "must not end with / (the key would name a folder)";
  if (template.includes("//")) return "must not contain // (an empty segment)";
  if (template.includes("..")) return "must not contain ..";
  if (template.split("/").includes(".")) {
    return "must not have a . segment (GCS refuses such object names)";
  }
  let maxLength = 0;
  for (const part of splitTemplate(template)) {
    if (part.kind === "literal") {
      if (/[{}]/.test(part.text)) {
        return "has a { or } that is not part of {conversation_id} or {epoch_ms}";
      }
      maxLength += part.text.length;
    } else if (!(part.name in tokens)) {
      return `has the unknown token {${part.name}}: only {conversation_id} and {epoch_ms} are substituted`;
    } else {
      maxLength += tokens[part.name as KeyToken];
    }
  }
  if (maxLength > MAX_KEY_LENGTH) {
    return `renders keys of up to ${maxLength} characters; object keys are limited to ${MAX_KEY_LENGTH}`;
  }
  return undefined;
}

/** Tells whether every recording of a conversation gets the same key (no `{epoch_ms}`). */
export function keyTemplateOverwrites(template: string): boolean {
  return !template.includes("{epoch_ms}");
}

/** The human warning for a template without `{epoch_ms}` (seed: overwrite behaviour). */
export function overwriteWarning(template: string): string {
  return `key_template "${template}" has no {epoch_ms}: every recording of a conversation gets the same key, so later recordings overwrite earlier ones. Include {epoch_ms} for a zero-collision guarantee.`;
}

/** The values substituted into a template. */
export interface KeyValues {
  conversationId: string;
  /** Milliseconds since 1970 at which the recording started (unique per conversation). */
  epochMs: number;
}

/** Renders a recording's key from a valid template. */
export function renderKey(template: string, values: KeyValues): string {
  if (!Number.isSafeInteger(values.epochMs) || values.epochMs < 0) {
    throw new RangeError(`epochMs must be a non-negative integer, got ${values.epochMs}`);
  }
  return template
    .replaceAll("{conversation_id}", values.conversationId)
    .replaceAll("{epoch_ms}", String(values.epochMs));
}

/**
 * The literal text before the first token: every key the template renders starts with it, so it
 * is the narrowest prefix a customer's write permission can be scoped to.
 */
export function keyTemplateStaticPrefix(template: string): string {
  const brace = template.indexOf("{");
  return brace === -1 ? template : template.slice(0, brace);
}

/**
 * The narrowest folder-like prefix a permission can be scoped to: the static prefix cut back to its
 * last `/`, so `my-org/recs/{conversation_id}.mp4` gives `my-org/recs/` (empty: the whole bucket).
 */
export function keyTemplatePermissionPrefix(template: string): string {
  const prefix = keyTemplateStaticPrefix(template);
  return prefix.slice(0, prefix.lastIndexOf("/") + 1);
}

/**
 * Where the diagnostic probe of `POST /v2/recording-storage/verify` writes and then deletes its
 * test object: under the template's prefix (so it proves the real permission) in a sub-folder of
 * its own (so the customer can grant delete on the probe alone, never on recordings).
 */
export function verifyProbePrefix(template: string): string {
  return `${keyTemplatePermissionPrefix(template)}.recording-relay-verify/`;
}

type TemplatePart = { kind: "literal"; text: string } | { kind: "token"; name: string };

function splitTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let rest = template;
  for (;;) {
    const match = /\{([^{}]*)\}/.exec(rest);
    if (!match) break;
    if (match.index > 0) parts.push({ kind: "literal", text: rest.slice(0, match.index) });
    parts.push({ kind: "token", name: match[1]! });
    rest = rest.slice(match.index + match[0].length);
  }
  if (rest) parts.push({ kind: "literal", text: rest });
  return parts;
}

function describeCharacter(character: string): string {
  if (character === " ") return "a space";
  const code = character.codePointAt(0)!;
  if (code < 0x20 || code === 0x7f) return `the control character U+${hex(code)}`;
  return `"${character}" (U+${hex(code)})`;
}

const hex = (code: number) => code.toString(16).toUpperCase().padStart(4, "0");
