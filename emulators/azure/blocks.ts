/**
 * Block blob rules: block id syntax, the Put Block List request body and the Get Block List
 * answer. Limits are the current service limits (x-ms-version 2019-12-12 and later).
 */
import { XMLParser } from "fast-xml-parser";
import { xmlElement } from "../shared/xml.ts";
import type { BlockRef } from "./store.ts";

/** Largest block Put Block accepts: 4,000 MiB. */
export const maxBlockBytes = 4000 * 1024 * 1024;
/** Largest body a single Put Blob accepts: 5,000 MiB. */
export const maxPutBlobBytes = 5000 * 1024 * 1024;
/** Most blocks a committed blob may have. */
export const maxCommittedBlocks = 50_000;
/** Longest decoded block id. */
const maxBlockIdBytes = 64;

/** Which list a Put Block List entry is looked up in. */
export type BlockListKind = "Committed" | "Uncommitted" | "Latest";

/** One entry of a Put Block List body, in order. */
export interface BlockListEntry {
  kind: BlockListKind;
  id: string;
}

/** True when `id` is canonical base64 of 1..64 bytes, as Put Block requires. */
export function isValidBlockId(id: string): boolean {
  if (id.length === 0 || id.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(id)) return false;
  const bytes = Buffer.from(id, "base64");
  return bytes.length > 0 && bytes.length <= maxBlockIdBytes && bytes.toString("base64") === id;
}

const parser = new XMLParser({
  // Order matters across element kinds (<Latest>a</Latest><Committed>b</Committed>…).
  preserveOrder: true,
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
});

/** Parses a Put Block List body; undefined when it is not a valid block list document. */
export function parseBlockList(xml: string): BlockListEntry[] | undefined {
  let doc: unknown;
  try {
    doc = parser.parse(xml, true);
  } catch {
    return undefined;
  }
  if (!Array.isArray(doc)) return undefined;
  const root = doc.find(
    (node): node is { BlockList: unknown[] } =>
      typeof node === "object" && node !== null && "BlockList" in node,
  );
  if (!root || !Array.isArray(root.BlockList)) return undefined;
  const entries: BlockListEntry[] = [];
  for (const node of root.BlockList as Record<string, unknown>[]) {
    const [kind] = Object.keys(node);
    if (kind !== "Committed" && kind !== "Uncommitted" && kind !== "Latest") return undefined;
    const children = node[kind];
    const text = Array.isArray(children)
      ? children.map((c: Record<string, unknown>) => c["#text"] ?? "").join("")
      : "";
    entries.push({ kind, id: String(text) });
  }
  return entries;
}

/** Renders the Get Block List answer. */
export function blockListXml(committed: BlockRef[], uncommitted: BlockRef[] | undefined): string {
  const blocks = (list: BlockRef[]) =>
    list
      .map((b) => `<Block>${xmlElement("Name", b.id)}${xmlElement("Size", b.size)}</Block>`)
      .join("");
  const uncommittedXml =
    uncommitted === undefined
      ? ""
      : `<UncommittedBlocks>${blocks(uncommitted)}</UncommittedBlocks>`;
  return `<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks>${blocks(committed)}</CommittedBlocks>${uncommittedXml}</BlockList>`;
}
