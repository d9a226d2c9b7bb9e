/** Identifiers in their textual form, checked by zod rather than by hand-written patterns. */
import { z } from "zod";

// 8-4-4-4-12 hexadecimal, any version and variant: the relay's own ids (random UUIDs) and the
// clouds' GUIDs (Entra tenant and client ids) alike.
const guid = z.guid();

/** Whether `value` is a UUID (case-insensitive 8-4-4-4-12 hexadecimal). */
export function isUuid(value: string): boolean {
  return guid.safeParse(value).success;
}
