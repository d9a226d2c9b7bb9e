import { randomUUID } from "node:crypto";
import type { Queryable } from "../db/index.ts";

/** A customer account (tenant). Its id is the Workspace ID: the OIDC `sub` and `customer_id`. */
export interface Workspace {
  id: string;
  name: string;
  createdAt: Date;
}

interface WorkspaceRow {
  id: string;
  name: string;
  created_at: Date;
}

const toWorkspace = (row: WorkspaceRow): Workspace => ({
  id: row.id,
  name: row.name,
  createdAt: row.created_at,
});

/** Creates a workspace. */
export async function createWorkspace(db: Queryable, input: { name: string }): Promise<Workspace> {
  const { rows } = await db.query<WorkspaceRow>(
    "INSERT INTO workspaces (id, name) VALUES ($1, $2) RETURNING id, name, created_at",
    [randomUUID(), input.name],
  );
  return toWorkspace(rows[0]!);
}

/** Finds a workspace by id; `undefined` when there is none. `id` must be a UUID. */
export async function findWorkspace(db: Queryable, id: string): Promise<Workspace | undefined> {
  const { rows } = await db.query<WorkspaceRow>(
    "SELECT id, name, created_at FROM workspaces WHERE id = $1",
    [id],
  );
  return rows[0] ? toWorkspace(rows[0]) : undefined;
}

/** Lists workspaces, oldest first. */
export async function listWorkspaces(db: Queryable): Promise<Workspace[]> {
  const { rows } = await db.query<WorkspaceRow>(
    "SELECT id, name, created_at FROM workspaces ORDER BY created_at, id",
  );
  return rows.map(toWorkspace);
}
