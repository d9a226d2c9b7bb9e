/**
 * The confused-deputy self-check (docs/security.md) through `POST /v2/recording-storage/verify`
 * against the emulators: each provider's `safety` step passes on the setup the guides produce and
 * warns, with a hint, on the unsafe one (S3: a role trusting the relay's account without the
 * ExternalId; GCS: a pool provider without an attribute condition; Azure: an app whose federated
 * credential admits any subject).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEMO as AWS_DEMO } from "../../emulators/aws/index.ts";
import { UNSAFE_PROVIDER_ID } from "../../emulators/gcp/index.ts";
import { databaseKinds } from "../helpers/databases.ts";
import {
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
} from "../helpers/delivery-rig.ts";

interface Step {
  step: string;
  status: string;
  message?: string;
  hint?: string;
}

for (const kind of databaseKinds) {
  describe(`confused-deputy self-check (${kind})`, () => {
    let rig: RigEnvironment;
    let relay: InProcessRelay;

    before(async () => {
      rig = await prepareRig(kind);
      relay = await startRigServer(rig, {}, { worker: false });
    });
    after(async () => {
      await relay?.close();
      await rig?.stop();
    });

    const safetyOf = async (storage: object): Promise<Step> => {
      const answer = await relay.call("POST", "/v2/recording-storage/verify", { json: storage });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.ok, true, JSON.stringify(answer.body));
      const steps = answer.body.steps as Step[];
      assert.equal(steps.at(-1)!.step, "safety");
      return steps.at(-1)!;
    };

    it("S3: AssumeRole without the ExternalId is refused by the guide's role, granted by one without the condition", async () => {
      const safe = await safetyOf(rig.emulators.destinations.s3);
      assert.equal(safe.status, "pass", JSON.stringify(safe));
      assert.match(safe.message!, /refused AssumeRole .* without the ExternalId/);
      const unsafe = await safetyOf({
        ...rig.emulators.destinations.s3,
        assume_role_arn: AWS_DEMO.unsafeRoleArn,
      });
      assert.equal(unsafe.status, "warn", JSON.stringify(unsafe));
      assert.match(
        unsafe.message!,
        /without the ExternalId: the role trusts the relay's AWS account/,
      );
      assert.match(unsafe.hint!, new RegExp(`"sts:ExternalId": "${rig.workspace.id}"`));
    });

    it("GCS: a token for another Workspace ID is refused by the pinned provider, exchanged by the unpinned one", async () => {
      const safe = await safetyOf(rig.emulators.destinations.gcs);
      assert.equal(safe.status, "pass", JSON.stringify(safe));
      const unsafe = await safetyOf({
        ...rig.emulators.destinations.gcs,
        workload_identity_provider_id: UNSAFE_PROVIDER_ID,
      });
      assert.equal(unsafe.status, "warn", JSON.stringify(unsafe));
      assert.match(unsafe.message!, /attribute condition does not pin your Workspace ID/);
      assert.match(unsafe.hint!, new RegExp(`assertion.customer_id == "${rig.workspace.id}"`));
    });

    it("Azure: a token with another subject is refused, unless a credential admits any subject", async () => {
      const destination = rig.emulators.destinations.azure_blob;
      const safe = await safetyOf(destination);
      assert.equal(safe.status, "pass", JSON.stringify(safe));
      rig.emulators.azure.addFederatedCredential(destination.tenant_id, destination.client_id, {
        name: "any-subject",
        issuer: rig.issuerUrl,
        claimsMatchingExpression: { value: "claims['sub'] matches '*'", languageVersion: 1 },
      });
      try {
        const unsafe = await safetyOf(destination);
        assert.equal(unsafe.status, "warn", JSON.stringify(unsafe));
        assert.match(unsafe.message!, /admits subjects other than yours/);
        assert.match(unsafe.hint!, new RegExp(rig.workspace.id));
      } finally {
        rig.emulators.azure.removeFederatedCredential(
          destination.tenant_id,
          destination.client_id,
          "any-subject",
        );
      }
      assert.equal((await safetyOf(destination)).status, "pass");
    });
  });
}
