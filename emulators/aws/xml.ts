import { XMLParser } from "fast-xml-parser";

export { xmlElement } from "../shared/xml.ts";

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
