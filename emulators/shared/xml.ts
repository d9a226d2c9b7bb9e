/** XML text helpers shared by the S3 and Azure Blob emulators' hand-assembled documents. */

const ENTITIES: Record<string, string> = {
  "<": "&lt;",
  ">": "&gt;",
  "&": "&amp;",
  "'": "&apos;",
  '"': "&quot;",
  // A literal CR would be read back as LF by the client's parser; S3 writes it as a reference.
  "\r": "&#13;",
};

/** Escapes text for an XML element body or a double-quoted attribute value. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"\r]/g, (c) => ENTITIES[c]!);
}

/** `<name>escaped text</name>`. */
export function xmlElement(name: string, text: string | number | boolean): string {
  return `<${name}>${xmlEscape(String(text))}</${name}>`;
}
