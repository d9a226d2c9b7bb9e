import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { errorCodes } from "./index.ts";

describe("docs/errors.md", () => {
  it("documents every error code (API, CLI and delivery), and no code that does not exist", async () => {
    const doc = await readFile(new URL("../../docs/errors.md", import.meta.url), "utf8");
    const documented = [...doc.matchAll(/^### `([A-Z_]+)`/gm)].map((match) => match[1]);
    assert.deepEqual(documented.toSorted(), Object.keys(errorCodes).toSorted());
  });
});
