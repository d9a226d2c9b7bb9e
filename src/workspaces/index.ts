export { authenticateApiKey, createApiKey } from "./api-keys.ts";
export { getDefaultRecordingStorage, setDefaultRecordingStorage } from "./default-storage.ts";
export { createWorkspace, findWorkspace, listWorkspaces, type Workspace } from "./workspaces.ts";
