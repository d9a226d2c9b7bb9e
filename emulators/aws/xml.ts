import { XMLParser } from "fast-xml-parser";

/** Escapes text for an XML element body or attribute. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&'"\r]/g, (c) => {
    switch (c) {
      case "<":
        return "&lt;";
      case ">":
        return "&gt;";
      case "&":
        return "&amp;";
      case "'":
        return "&apos;";
      case '"':
        return "&quot;";
      default:
        return "&#13;";
    }
  });
}

/** `<name>escaped text</name>`. */
export function xmlElement(name: string, text: string | number | boolean): string {
  return `<${name}>${xmlEscape(String(text))}</${name}>`;
}

/** `<name>children</name>` where children are already rendered XML. */
export function xmlNode(name: string, children: string | string[]): string {
  return `<${name}>${Array.isArray(children) ? children.join("") : children}</${name}>`;
}

/** A complete S3 response document in the S3 namespace. */
export function s3Document(root: string, children: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${children.join("")}</${root}>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: true,
  // Numeric character references (Go's encoder writes quotes in ETags as &#34;).
  htmlEntities: true,
  isArray: (name) => name === "Part" || name === "Object",
});

/** Parses a small request document (CompleteMultipartUpload, Delete); undefined when malformed. */
export function parseXml(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = parser.parse(text, true);
    return typeof parsed === "object" && parsed !== null
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
