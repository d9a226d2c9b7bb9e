/**
 * Query parameters shared by the list endpoints (docs/api.md, Conversations: cursor pagination):
 * `limit`, `cursor`, instants in RFC 3339, and the operator's `workspace_id`.
 */
import { z } from "zod";
import { AppError } from "../../errors/index.ts";

const limitMessage = "must be a whole number from 1 to 100";

/** `limit`: 1–100, default chosen by the route. */
export const limitParam = z
  .string()
  .regex(/^\d+$/, limitMessage)
  .transform(Number)
  .pipe(z.number().min(1, limitMessage).max(100, limitMessage))
  .optional();

/** `cursor`: a previous answer's `next_cursor`, checked by decodeCursor. */
export const cursorParam = z.string().max(300, "is not a cursor from a previous page").optional();

/** An RFC 3339 instant with its offset (`2026-01-31T12:00:00Z`, `…+01:00`). */
export const instantParam = z.iso
  .datetime({
    offset: true,
    error: "must be an RFC 3339 time with its offset, like 2026-01-31T12:00:00Z",
  })
  .transform((value) => new Date(value))
  .optional();

/** `workspace_id`: narrows an operator's listing to one workspace. */
export const workspaceIdParam = z
  .uuid("must be a workspace id (a UUID)")
  .optional()
  .meta({ description: "Operator only: one workspace's items (default: every workspace's)" });

/**
 * The workspace a listing is limited to: a workspace key sees its own only (a `workspace_id`
 * naming another is refused), the operator everything or the one it names.
 */
export function listingScope(
  callerWorkspaceId: string,
  requested: string | undefined,
): string | undefined {
  if (callerWorkspaceId === "") return requested;
  if (requested !== undefined && requested !== callerWorkspaceId) {
    throw new AppError(
      "VALIDATION_FAILED",
      "query.workspace_id: only the operator lists other workspaces; a workspace key lists its own",
      { field: "query.workspace_id" },
    );
  }
  return callerWorkspaceId;
}
