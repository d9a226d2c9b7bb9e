/**
 * Page cursors of list endpoints: opaque to clients, base64url of the last item's exact position
 * (a microsecond UTC timestamp) and id, so a page boundary survives inserts between requests.
 */
import { AppError } from "../errors/index.ts";

/** Where a page ends: the last item's sort position and its id (the tie-breaker). */
export interface PagePosition {
  position: string;
  id: string;
}

const positionShape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A shape-correct timestamp can still name no instant (month 13, 30 February, year 0). */
function isRealInstant(position: string): boolean {
  const milliseconds = Date.parse(position);
  if (Number.isNaN(milliseconds) || position.startsWith("0000")) return false;
  return new Date(milliseconds).toISOString().slice(0, 23) === position.slice(0, 23);
}

/** The cursor that continues after `last`. */
export function encodeCursor(last: PagePosition): string {
  return Buffer.from(JSON.stringify([last.position, last.id])).toString("base64url");
}

/** Decodes a cursor whose id must pass `isId`; anything else is a 400 naming `query.cursor`. */
export function decodeCursor(cursor: string, isId: (id: string) => boolean): PagePosition {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      typeof value[0] === "string" &&
      positionShape.test(value[0]) &&
      isRealInstant(value[0]) &&
      typeof value[1] === "string" &&
      isId(value[1])
    ) {
      return { position: value[0], id: value[1] };
    }
  } catch {
    // Falls through to the 400 below.
  }
  throw new AppError(
    "VALIDATION_FAILED",
    "query.cursor: is not a cursor from a previous page (pass next_cursor unchanged)",
    { field: "query.cursor" },
  );
}
