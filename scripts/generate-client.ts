/**
 * Writes the typed client's types (`src/client/schema.ts`) from the relay's own OpenAPI document
 * (`npm run client:generate`), built in this process by `createApp`: no network, no database.
 * `--check` (`npm run client:check`, run by CI) writes nothing and fails when the committed types
 * are stale, i.e. a route or schema changed without regenerating.
 */
import { readFile, writeFile } from "node:fs/promises";
import openapiTS, { type OpenAPI3 } from "openapi-typescript";
import type { Db } from "../src/db/index.ts";
import { createApp } from "../src/http/app.ts";
import type { Ingest } from "../src/ingest/ingest.ts";

const target = new URL("../src/client/schema.ts", import.meta.url);

/** Nothing here is called: routes only touch their dependencies when they answer. */
const unused = new Proxy(
  {},
  {
    get() {
      throw new Error("the OpenAPI document is built without serving any request");
    },
  },
);

async function render(): Promise<string> {
  const app = await createApp({
    db: unused as Db,
    operatorToken: "unused-operator-token-for-the-openapi-document",
    issuer: new Proxy(
      { issuerUrl: "https://relay.example.com" },
      { get: (target, name) => (name === "issuerUrl" ? target.issuerUrl : unused) },
    ) as never,
    bodyLimitBytes: 1_048_576,
    logger: false,
    version: "client",
    trust: {
      issuerUrl: "https://relay.example.com",
      awsAuthMode: "assume_role",
      awsAccountId: "111122223333",
      awsExternalIdMode: "workspace",
      awsExternalId: undefined,
      awsRoleSessionSeconds: 43_200,
    },
    defaultKeyTemplate: "{conversation_id}/{epoch_ms}",
    allowHttpCallbacks: false,
    masterKey: new Uint8Array(32),
    webhookSecretOverlapMs: 0,
    // Serves the recording and tus routes, as `serve` does.
    ingest: unused as Ingest,
  });
  try {
    await app.ready();
    const document = app.swagger() as unknown as OpenAPI3;
    return await openapiTS(document, {});
  } finally {
    await app.close();
  }
}

const generated = await render();
if (process.argv.includes("--check")) {
  const committed = await readFile(target, "utf8").catch(() => "");
  if (committed !== generated) {
    process.stderr.write(
      "src/client/schema.ts is stale: the API changed; run `npm run client:generate` and commit it\n",
    );
    process.exit(1);
  }
  process.stdout.write("src/client/schema.ts matches the OpenAPI document\n");
} else {
  await writeFile(target, generated);
  process.stdout.write("wrote src/client/schema.ts\n");
}
