/**
 * The typed client against a relay: typed calls reach the routes, answers are parsed, failures
 * come back as the relay's error. The types themselves are checked by `tsc` (and kept fresh by
 * `npm run client:check`).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { operatorToken, startTestRelay, type TestRelay } from "../../test/helpers/relay-api.ts";
import { createRelayClient, relayError } from "./index.ts";

describe("recording-relay/client", () => {
  let relay: TestRelay;
  before(async () => {
    relay = await startTestRelay("embedded");
  });
  after(async () => {
    await relay?.close();
  });

  it("creates and lists workspaces with the operator token, typed end to end", async () => {
    const client = createRelayClient({ baseUrl: `${relay.base}/`, operatorToken });
    const created = await client.POST("/v2/workspaces", { body: { name: "Typed" } });
    assert.equal(created.response.status, 201);
    assert.equal(created.data?.name, "Typed");
    const listed = await client.GET("/v2/workspaces");
    assert.ok(listed.data?.data.some((w) => w.workspace_id === created.data?.workspace_id));
  });

  it("gives the relay's error code and message on a failure", async () => {
    const client = createRelayClient({ baseUrl: relay.base, operatorToken: "wrong" });
    const { error, response } = await client.GET("/v2/workspaces");
    assert.equal(response.status, 401);
    assert.equal(relayError(error, response.status).code, "UNAUTHENTICATED");
  });
});
