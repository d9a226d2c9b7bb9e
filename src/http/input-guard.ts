/**
 * Refuses input no endpoint can store or act on, before any route sees it: JSON nested deeper than
 * any of our documents (a recursion bomb for anything that walks it) and text PostgreSQL cannot
 * hold (NUL) or that is not valid Unicode (unpaired UTF-16 surrogates). Without it such input
 * reached the database or overflowed the stack and answered 500.
 */
import type { FastifyRequest } from "fastify";
import { AppError } from "../errors/index.ts";

/** Deeper than any document of the API (recording_storage is two levels inside a conversation). */
export const MAX_JSON_DEPTH = 32;

/** Why a string cannot be accepted, or undefined. */
export function textProblem(value: string): string | undefined {
  if (value.includes("\u0000")) return "must not contain NUL characters (\\u0000)";
  if (!value.isWellFormed()) return "must not contain unpaired UTF-16 surrogates";
  return undefined;
}

/** The first problem in `value` (walked without recursion), with the dotted path at fault. */
export function inputProblem(
  value: unknown,
  root: string,
): { field: string; message: string } | undefined {
  const pending: [unknown, string, number][] = [[value, root, 0]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, path, depth] = next;
    if (typeof item === "string") {
      const problem = textProblem(item);
      if (problem) return { field: path, message: problem };
      continue;
    }
    if (item === null || typeof item !== "object") continue;
    if (depth >= MAX_JSON_DEPTH) {
      return { field: path, message: `nests deeper than ${MAX_JSON_DEPTH} levels` };
    }
    if (Array.isArray(item)) {
      item.forEach((element, index) => {
        pending.push([element, `${path}[${index}]`, depth + 1]);
      });
      continue;
    }
    for (const [name, element] of Object.entries(item)) {
      const field = path ? `${path}.${name}` : name;
      const problem = textProblem(name);
      if (problem) return { field, message: `field name ${problem}` };
      pending.push([element, field, depth + 1]);
    }
  }
  return undefined;
}

/** A body that is a byte stream (recording appends) is not walked: it never reaches SQL as text. */
function isStream(body: unknown): boolean {
  return typeof (body as { pipe?: unknown } | null)?.pipe === "function";
}

/** Fastify `preValidation` hook: path, query and JSON body, before schemas and handlers. */
export async function refuseHostileInput(request: FastifyRequest): Promise<void> {
  const problem =
    inputProblem(request.params, "path") ??
    inputProblem(request.query, "query") ??
    (isStream(request.body) ? undefined : inputProblem(request.body, ""));
  if (!problem) return;
  const field = problem.field || "body";
  throw new AppError("VALIDATION_FAILED", `${field}: ${problem.message}`, { field });
}
