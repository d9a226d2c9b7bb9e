/**
 * Signing keys over HTTP, end to end: list, scheduled rotation, and an emergency rotation after
 * which the JWKS no longer has the old keys, a token minted before is refused by a verifier using
 * the relay's JWKS (jose's remote key set, as clouds do), and new deliveries succeed.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { testBytes } from "../helpers/bytes.ts";
import {
  connectReceiver,
  createRecordedConversation,
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
  startWebhookReceiver,
  type WebhookReceiver,
} from "../helpers/delivery-rig.ts";

const AZURE_AUDIENCE = "api://AzureADTokenExchange";

describe("signing keys over HTTP (embedded)", () => {
  let rig: RigEnvironment;
  let relay: InProcessRelay;
  let receiver: WebhookReceiver;

  before(async () => {
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded", { RELAY_LIVE_UPLOAD: "false" });
    relay = await startRigServer(rig);
    await connectReceiver(relay.call, receiver);
  });
  after(async () => {
    await relay?.close();
    await receiver?.close();
    await rig?.stop();
  });

  const jwksKids = async () => {
    const answer = await fetch(`${rig.issuerUrl}/.well-known/jwks.json`);
    const body = (await answer.json()) as { keys: { kid: string }[] };
    return body.keys.map((key) => key.kid).sort();
  };
  /** A verifier as a cloud has it: the relay's discovery, its JWKS fetched over HTTP. */
  const verify = (token: string) =>
    jwtVerify(token, createRemoteJWKSet(new URL(`${rig.issuerUrl}/.well-known/jwks.json`)), {
      issuer: rig.issuerUrl,
      audience: AZURE_AUDIENCE,
    });
  const mint = () =>
    relay.server.issuer.mintToken({ workspaceId: rig.workspace.id, audience: AZURE_AUDIENCE });

  it("is the operator's only", async () => {
    for (const [method, path] of [
      ["GET", "/v2/signing-keys"],
      ["POST", "/v2/signing-keys/rotate"],
      ["POST", "/v2/signing-keys/emergency-rotate"],
    ] as const) {
      assert.equal((await relay.call(method, path)).status, 401, path);
    }
  });

  it("lists, rotates on schedule, then withdraws every old key in an emergency", async () => {
    const listed = await relay.call("GET", "/v2/signing-keys", { operator: true });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.data.length, 1);
    const first = listed.body.data[0];
    assert.equal(first.state, "signing");
    assert.deepEqual(Object.keys(first).sort(), [
      "activate_at",
      "kid",
      "publish_at",
      "retire_at",
      "state",
      "unpublish_at",
    ]);

    const scheduled = await relay.call("POST", "/v2/signing-keys/rotate", { operator: true });
    assert.equal(scheduled.status, 200);
    assert.equal(scheduled.body.result, "scheduled");
    assert.equal(scheduled.body.replaces, first.kid);
    const activateIn = Date.parse(scheduled.body.activate_at) - Date.now();
    assert.ok(activateIn > 23.9 * 3_600_000, "the successor signs 24 h later");
    const again = await relay.call("POST", "/v2/signing-keys/rotate", { operator: true });
    assert.equal(again.body.result, "already_pending");
    assert.deepEqual(await jwksKids(), [first.kid, scheduled.body.kid].sort());

    // A token the soon-compromised key signed verifies now.
    const oldToken = await mint();
    assert.equal(decodeProtectedHeader(oldToken).kid, first.kid);
    await verify(oldToken);

    const emergency = await relay.call("POST", "/v2/signing-keys/emergency-rotate", {
      operator: true,
    });
    assert.equal(emergency.status, 200);
    assert.deepEqual(emergency.body.withdrawn, [first.kid, scheduled.body.kid].sort());
    const fresh = emergency.body.kid as string;
    assert.deepEqual(await jwksKids(), [fresh]);
    const after = await relay.call("GET", "/v2/signing-keys", { operator: true });
    const states = Object.fromEntries(
      after.body.data.map((key: { kid: string; state: string }) => [key.kid, key.state]),
    );
    assert.equal(states[fresh], "signing");
    assert.equal(states[first.kid], "withdrawn");
    assert.equal(states[scheduled.body.kid], "withdrawn");

    // The old token is refused by a verifier reading the JWKS; a new one is signed by the new key.
    await assert.rejects(verify(oldToken), { code: "ERR_JWKS_NO_MATCHING_KEY" });
    const newToken = await mint();
    assert.equal(decodeProtectedHeader(newToken).kid, fresh);
    await verify(newToken);

    // New deliveries through the clouds that verify the relay's tokens succeed.
    for (const provider of ["gcs", "azure_blob"] as const) {
      const conversation = await createRecordedConversation(
        relay.call,
        receiver,
        rig.emulators.destinations[provider],
      );
      const answer = await relay.call("POST", `/v2/conversations/${conversation}/recordings`, {
        operator: true,
        bytes: testBytes(64 * 1024, 9),
      });
      assert.equal(answer.status, 202);
      const id = answer.body.recording_id as string;
      for (;;) {
        const read = await relay.call("GET", `/v2/recordings/${id}`);
        assert.notEqual(read.body.state, "failed", JSON.stringify(read.body.delivery));
        if (read.body.state === "delivered") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  });
});
