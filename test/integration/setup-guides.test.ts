/**
 * Customer setup guides through the HTTP API: filled with the workspace's values, exactly the
 * trust the relay needs, Terraform that `terraform fmt -check` accepts, and shell scripts that run
 * under bash against stand-in `aws`/`gcloud`/`az` commands which record what they were asked.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DEMO as AWS_DEMO, type RoleConfig } from "../../emulators/aws/index.ts";
import { verifyDestination } from "../../src/destinations/index.ts";
import { generateSetup } from "../../src/providers/setup-guides.ts";
import { validGcs, validS3 } from "../fixtures/recording-storage-corpus.ts";
import { testAwsAccountId, testTrust } from "../helpers/app-deps.ts";
import { testSignal } from "../helpers/bytes.ts";
import {
  awsRig,
  destinationTrust,
  emulatorSettings,
  factoryFor,
  newWorkspaceId,
  type RelayIssuer,
  startRelayIssuer,
} from "../helpers/destinations.ts";
import { startTestRelay, type TestRelay } from "../helpers/relay-api.ts";

const terraform = spawnSync("terraform", ["version"], { encoding: "utf8" }).status === 0;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "relay-setup-"));
  // Stand-ins for the cloud CLIs: log argv (one line per call), answer what the scripts read.
  const stub = (answers: string) =>
    `#!/usr/bin/env bash\nprintf '%s\\n' "$(basename "$0") $*" >> "$STUB_LOG"\n${answers}\n`;
  await writeFile(
    join(dir, "aws"),
    stub(
      `case "$*" in *get-caller-identity*) echo "arn:aws:iam::\${STUB_ACCOUNT:-999988887777}:user/admin";; *get-role*) echo "arn:aws:iam::\${STUB_ACCOUNT:-999988887777}:role/recording-relay-writer";; *get-open-id-connect-provider*) [ -n "\${STUB_OIDC_EXISTS:-}" ] || { echo "NoSuchEntity" >&2; exit 254; };; esac`,
    ),
  );
  await writeFile(
    join(dir, "gcloud"),
    stub(
      // STUB_BINDING_FAILURES: how many service-account bindings fail first (a new service
      // account not yet visible to IAM), counted in $STUB_LOG.binding.
      `case "$*" in "projects describe"*) echo "555566667777";; "iam service-accounts add-iam-policy-binding"*) n=$(cat "$STUB_LOG.binding" 2>/dev/null || echo 0); echo $((n + 1)) > "$STUB_LOG.binding"; if [ "$n" -lt "\${STUB_BINDING_FAILURES:-0}" ]; then echo "ERROR: (gcloud.iam.service-accounts.add-iam-policy-binding) NOT_FOUND: Service account does not exist" >&2; exit 1; fi;; esac`,
    ),
  );
  // Waits are recorded, not slept.
  await writeFile(join(dir, "sleep"), stub(""));
  await writeFile(
    join(dir, "az"),
    stub(
      `case "$*" in "ad app create"*) echo "0f3a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b";; "ad sp create"*) echo "11111111-2222-4333-8444-555555555555";; "account show"*) echo "72f988bf-86f1-41af-91ab-2d7cd011db47";; esac`,
    ),
  );
  for (const name of ["aws", "gcloud", "az", "sleep"]) await chmod(join(dir, name), 0o755);
});
after(async () => await rm(dir, { recursive: true, force: true }));

/** Runs a generated script with the stubs; returns its exit code, output, the calls and files. */
async function runScript(name: string, script: string, env: Record<string, string> = {}) {
  const work = await mkdtemp(join(dir, `${name}-`));
  const log = join(work, "calls.log");
  await writeFile(log, "");
  const result = spawnSync("bash", ["-c", script], {
    cwd: work,
    encoding: "utf8",
    env: { PATH: `${dir}:${process.env.PATH}`, STUB_LOG: log, ...env },
  });
  const calls = (await readFile(log, "utf8")).split("\n").filter(Boolean);
  const file = (file: string) => readFile(join(work, file), "utf8");
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls, file };
}

async function fmtCheck(name: string, source: string) {
  const work = await mkdtemp(join(dir, `tf-${name}-`));
  await writeFile(join(work, "main.tf"), source);
  const result = spawnSync("terraform", ["fmt", "-check", "-diff", "main.tf"], {
    cwd: work,
    encoding: "utf8",
  });
  assert.equal(result.status, 0, `terraform fmt -check failed:\n${result.stdout}${result.stderr}`);
}

const fill = (script: string, values: Record<string, string>) =>
  Object.entries(values).reduce(
    (text, [name, value]) => text.replace(new RegExp(`^${name}=.*$`, "m"), `${name}=${value}`),
    script,
  );

describe("setup guides through the HTTP API", () => {
  let relay: TestRelay;
  let workspace: { id: string; apiKey: string };
  const setup = (provider: string, apiKey = workspace.apiKey) =>
    relay.call("GET", `/v2/recording-storage/setup/${provider}`, { apiKey });

  before(async () => {
    relay = await startTestRelay("postgres");
    workspace = await relay.workspace();
  });
  after(async () => await relay.close());

  it("s3: trusts only the relay's account with the workspace's ExternalId, for long enough, and writes only under the prefix", async () => {
    const answer = await setup("s3");
    assert.equal(answer.status, 200);
    const guide = answer.body;
    assert.deepEqual(guide.relay_identity, {
      trusted_aws_account_id: testAwsAccountId,
      external_id: workspace.id,
      external_id_mode: "workspace",
      role_session_seconds: 43_200,
      required_max_session_duration: 43_200,
    });
    assert.deepEqual(
      guide.placeholders.map((p: { name: string }) => p.name),
      ["BUCKET", "BUCKET_REGION"],
    );
    assert.match(guide.cli, /^BUCKET='<your-bucket-name>' {2}# FILL IN$/m);

    // Unfilled, the script refuses to run and calls nothing.
    const unfilled = await runScript("s3-unfilled", guide.cli);
    assert.equal(unfilled.status, 1);
    assert.match(unfilled.stderr, /Fill in BUCKET, BUCKET_REGION/);
    assert.deepEqual(unfilled.calls, []);

    const run = await runScript(
      "s3",
      fill(guide.cli, { BUCKET: "acme-recs", BUCKET_REGION: "eu-west-1" }),
    );
    assert.equal(run.status, 0, run.stderr);
    const trust = JSON.parse(await run.file("recording-relay-trust.json"));
    assert.deepEqual(trust.Statement, [
      {
        Sid: "RecordingRelayAssumeRole",
        Effect: "Allow",
        Principal: { AWS: `arn:aws:iam::${testAwsAccountId}:root` },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": workspace.id } },
      },
    ]);
    const permissions = JSON.parse(await run.file("recording-relay-permissions.json"));
    assert.deepEqual(permissions.Statement, [
      {
        Sid: "WriteRecordings",
        Effect: "Allow",
        Action: [
          "s3:PutObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
          "s3:GetObject",
        ],
        Resource: "arn:aws:s3:::acme-recs/tavus/*",
      },
      {
        Sid: "RemoveVerifyProbe",
        Effect: "Allow",
        Action: "s3:DeleteObject",
        Resource: "arn:aws:s3:::acme-recs/tavus/.recording-relay-verify/*",
      },
    ]);
    assert.ok(
      run.calls.some((call) =>
        /^aws iam create-role --role-name recording-relay-writer .*--max-session-duration 43200 --assume-role-policy-document file:\/\/recording-relay-trust.json$/.test(
          call,
        ),
      ),
      run.calls.join("\n"),
    );
    assert.ok(
      run.calls.some((call) =>
        call.startsWith("aws iam put-role-policy --role-name recording-relay-writer"),
      ),
    );
    assert.equal(
      run.calls.filter((call) => / iam /.test(call)).length,
      3,
      "create, policy, get only",
    );
    const printed = JSON.parse(run.stdout);
    assert.equal(printed.assume_role_arn, "arn:aws:iam::999988887777:role/recording-relay-writer");
    assert.equal(printed.key_template, "tavus/{conversation_id}/{epoch_ms}");

    assert.match(guide.terraform, /relay_aws_account_id = "111122223333"/);
    assert.match(guide.terraform, new RegExp(`external_id {10}= "${workspace.id}"`));
    assert.match(guide.terraform, /max_session_duration = local.max_session_seconds/);
    assert.doesNotMatch(guide.terraform, /s3:\*|ListBucket|"\*"/);
  });

  it("s3: the fixed ExternalId mode, a short session (AWS minimum one hour) and a saved default fill the guide", async () => {
    const fixed = await startTestRelay("postgres", {
      trust: testTrust({
        awsExternalIdMode: "fixed",
        awsExternalId: "relay-shared-id",
        awsRoleSessionSeconds: 900,
      }),
    });
    try {
      const { apiKey } = await fixed.workspace();
      const role = "arn:aws:iam::123456789012:role/team/RecordingWriter";
      await fixed.call("PUT", "/v2/recording-storage", {
        apiKey,
        body: {
          ...validS3,
          assume_role_arn: role,
          key_template: "my-org/recs/{conversation_id}.mp4",
        },
      });
      const guide = (await fixed.call("GET", "/v2/recording-storage/setup/s3", { apiKey })).body;
      assert.equal(guide.relay_identity.external_id, "relay-shared-id");
      assert.equal(guide.relay_identity.required_max_session_duration, 3600);
      assert.deepEqual(guide.placeholders, []);
      assert.equal(guide.recording_storage.assume_role_arn, role);
      const run = await runScript("s3-known", guide.cli);
      assert.equal(run.status, 0, run.stderr);
      const permissions = JSON.parse(await run.file("recording-relay-permissions.json"));
      assert.equal(permissions.Statement[0].Resource, "arn:aws:s3:::acme-recs/my-org/recs/*");
      const trust = JSON.parse(await run.file("recording-relay-trust.json"));
      assert.equal(trust.Statement[0].Condition.StringEquals["sts:ExternalId"], "relay-shared-id");
      assert.ok(
        run.calls.some((call) =>
          /--role-name RecordingWriter .*--max-session-duration 3600 /.test(call),
        ),
      );
      if (terraform) await fmtCheck("s3-known", guide.terraform);
    } finally {
      await fixed.close();
    }
  });

  it("s3 in web_identity mode: needs no AWS account; an IAM OIDC provider for the issuer and a role trusting it for this workspace's sub and the STS audience", async () => {
    const webIdentity = await startTestRelay("postgres", {
      trust: testTrust({
        awsAuthMode: "web_identity",
        awsAccountId: undefined,
        issuerUrl: "https://relay.example.com/oidc",
      }),
    });
    try {
      const { id, apiKey } = await webIdentity.workspace();
      const answer = await webIdentity.call("GET", "/v2/recording-storage/setup/s3", { apiKey });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const guide = answer.body;
      assert.deepEqual(guide.relay_identity, {
        auth_mode: "web_identity",
        issuer: "https://relay.example.com/oidc",
        subject: id,
        audience: "sts.amazonaws.com",
        role_session_seconds: 43_200,
        required_max_session_duration: 43_200,
      });
      assert.doesNotMatch(guide.cli, /ExternalId|:root|"sts:AssumeRole"/);
      const run = await runScript(
        "s3-web-identity",
        fill(guide.cli, { BUCKET: "acme-recs", BUCKET_REGION: "eu-west-1" }),
      );
      assert.equal(run.status, 0, run.stderr);
      assert.ok(
        run.calls.includes(
          "aws iam create-open-id-connect-provider --url https://relay.example.com/oidc --client-id-list sts.amazonaws.com",
        ),
        run.calls.join("\n"),
      );
      const trust = JSON.parse(await run.file("recording-relay-trust.json"));
      assert.deepEqual(trust.Statement, [
        {
          Sid: "RecordingRelayWebIdentity",
          Effect: "Allow",
          Principal: {
            Federated: "arn:aws:iam::999988887777:oidc-provider/relay.example.com/oidc",
          },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: {
              "relay.example.com/oidc:aud": "sts.amazonaws.com",
              "relay.example.com/oidc:sub": id,
            },
          },
        },
      ]);
      // An account that already has the provider (another workspace of this relay) adds the
      // audience to it instead of failing on a second create.
      const again = await runScript(
        "s3-web-identity-again",
        fill(guide.cli, { BUCKET: "acme-recs", BUCKET_REGION: "eu-west-1" }),
        { STUB_OIDC_EXISTS: "1" },
      );
      assert.equal(again.status, 0, again.stderr);
      assert.ok(!again.calls.some((call) => call.includes("create-open-id-connect-provider")));
      assert.ok(
        again.calls.includes(
          "aws iam add-client-id-to-open-id-connect-provider --open-id-connect-provider-arn arn:aws:iam::999988887777:oidc-provider/relay.example.com/oidc --client-id sts.amazonaws.com",
        ),
        again.calls.join("\n"),
      );
      assert.match(guide.terraform, /resource "aws_iam_openid_connect_provider" "recording_relay"/);
      assert.match(guide.terraform, /Action += "sts:AssumeRoleWithWebIdentity"/);
      assert.match(guide.terraform, /"\$\{local.issuer_host_path\}:sub" = local.workspace_id/);
      assert.doesNotMatch(guide.terraform, /:root|ExternalId/);
      if (terraform) await fmtCheck("s3-web-identity", guide.terraform);
      // Nor does saving an S3 default need the operator's account in this mode.
      const saved = await webIdentity.call("PUT", "/v2/recording-storage", {
        apiKey,
        body: validS3,
      });
      assert.equal(saved.status, 200, JSON.stringify(saved.body));
    } finally {
      await webIdentity.close();
    }
  });

  it("gcs: pool and provider trusting the issuer for this workspace only, impersonation by its principalSet, prefix-scoped object permissions", async () => {
    const guide = (await setup("gcs")).body;
    assert.equal(guide.relay_identity.issuer, "https://relay.example.com");
    assert.equal(guide.relay_identity.subject, workspace.id);
    const run = await runScript(
      "gcs",
      fill(guide.cli, { PROJECT_ID: "acme-prod", BUCKET: "acme-recs" }),
    );
    assert.equal(run.status, 0, run.stderr);
    const calls = run.calls.join("\n");
    assert.match(
      calls,
      new RegExp(
        `^gcloud iam workload-identity-pools providers create-oidc recording-relay --project=acme-prod --location=global --workload-identity-pool=recording-relay-pool --display-name=Recording relay --issuer-uri=https://relay.example.com --attribute-mapping=google.subject=assertion.sub,attribute.customer_id=assertion.customer_id --attribute-condition=assertion.customer_id == '${workspace.id}'$`,
        "m",
      ),
    );
    assert.doesNotMatch(calls, /allowed-audiences/, "the default audience is what the relay sends");
    assert.match(
      calls,
      new RegExp(
        `^gcloud iam service-accounts add-iam-policy-binding recording-relay-writer@acme-prod.iam.gserviceaccount.com --project=acme-prod --role=roles/iam.workloadIdentityUser --member=principalSet://iam.googleapis.com/projects/555566667777/locations/global/workloadIdentityPools/recording-relay-pool/attribute.customer_id/${workspace.id}$`,
        "m",
      ),
    );
    assert.match(
      calls,
      /--permissions=storage.objects.create,storage.objects.get$/m,
      "writer: create and get, no delete",
    );
    assert.match(
      calls,
      /--condition=expression=resource.name.startsWith\('projects\/_\/buckets\/acme-recs\/objects\/tavus\/'\),title=recording-relay-key-prefix$/m,
    );
    assert.match(
      calls,
      /objects\/tavus\/.recording-relay-verify\/'\),title=recording-relay-verify-probe$/m,
    );
    assert.doesNotMatch(
      calls,
      /roles\/storage\.(admin|objectAdmin|objectUser)|projects add-iam-policy-binding/,
    );
    assert.match(
      guide.terraform,
      /attribute_condition = "assertion.customer_id == \\"\$\{local.workspace_id\}\\""/,
    );
    assert.match(guide.terraform, /"attribute.customer_id" = "assertion.customer_id"/);
  });

  it("gcs: waits for the new service account to propagate (bounded), turns on uniform bucket-level access, and Terraform orders on the enabled APIs", async () => {
    const guide = (await setup("gcs")).body;
    const filled = fill(guide.cli, { PROJECT_ID: "acme-prod", BUCKET: "acme-recs" });
    const saBinding = /^gcloud iam service-accounts add-iam-policy-binding /;

    // Not visible for two tries: the script waits and tries again, then goes on.
    const late = await runScript("gcs-propagation", filled, { STUB_BINDING_FAILURES: "2" });
    assert.equal(late.status, 0, late.stderr);
    assert.equal(late.calls.filter((call) => saBinding.test(call)).length, 3);
    assert.equal(late.calls.filter((call) => /^sleep /.test(call)).length, 2);
    assert.match(late.stderr, /not visible yet/);
    const uniform = late.calls.indexOf(
      "gcloud storage buckets update gs://acme-recs --uniform-bucket-level-access",
    );
    assert.ok(uniform > 0, late.calls.join("\n"));
    assert.ok(
      uniform <
        late.calls.findIndex((call) =>
          call.startsWith("gcloud storage buckets add-iam-policy-binding"),
        ),
      "uniform bucket-level access before the conditional bindings",
    );

    // Never visible: the script gives up after a bounded wait (about two minutes), failing.
    const never = await runScript("gcs-never", filled, { STUB_BINDING_FAILURES: "1000" });
    assert.notEqual(never.status, 0);
    const tries = never.calls.filter((call) => saBinding.test(call)).length;
    assert.ok(tries > 3 && tries <= 30, `${tries} tries`);
    assert.match(never.stderr, /gave up/);
    assert.ok(!never.calls.some((call) => call.startsWith("gcloud storage buckets add-iam")));

    const block = (type: string, name: string) =>
      new RegExp(`^resource "${type}" "${name}" \\{\\n[\\s\\S]*?\\n\\}$`, "m").exec(
        guide.terraform,
      )?.[0] ?? "";
    for (const [type, name] of [
      ["google_service_account", "recording_relay"],
      ["google_project_iam_custom_role", "recording_relay_writer"],
      ["google_project_iam_custom_role", "recording_relay_probe_cleanup"],
      ["google_iam_workload_identity_pool", "recording_relay"],
    ]) {
      assert.match(
        block(type, name!),
        /depends_on += \[google_project_service\.recording_relay\]/,
        `${type}.${name}`,
      );
    }
    // The bucket is the customer's: looked up, and the conditional binding refuses to apply
    // without uniform bucket-level access.
    assert.match(guide.terraform, /^data "google_storage_bucket" "recordings" \{$/m);
    assert.match(
      block("google_storage_bucket_iam_member", "recording_relay_writer"),
      /precondition \{\n\s+condition\s+= data\.google_storage_bucket\.recordings\.uniform_bucket_level_access/,
    );
    if (terraform) await fmtCheck("gcs", guide.terraform);
  });

  it("gcs: a flat key template needs delete on the prefix (GCS overwrites need it); a saved default fills every name", async () => {
    const { apiKey } = await relay.workspace("Flat");
    await relay.call("PUT", "/v2/recording-storage", {
      apiKey,
      body: { ...validGcs, key_template: "recs/{conversation_id}.mp4" },
    });
    const guide = (await setup("gcs", apiKey)).body;
    assert.deepEqual(guide.placeholders, []);
    assert.equal(guide.recording_storage.service_account_email, validGcs.service_account_email);
    assert.equal(
      guide.relay_identity.audience,
      "//iam.googleapis.com/projects/123456789012/locations/global/workloadIdentityPools/tavus-recording-pool/providers/tavus-recording",
    );
    const run = await runScript("gcs-flat", guide.cli);
    assert.equal(run.status, 0, run.stderr);
    const calls = run.calls.join("\n");
    assert.match(calls, /--project=acme-prod/);
    assert.match(
      calls,
      /--permissions=storage.objects.create,storage.objects.get,storage.objects.delete$/m,
    );
    assert.doesNotMatch(calls, /recordingRelayProbeCleanup/);
    assert.match(calls, /objects\/recs\/'\),title=recording-relay-key-prefix$/m);
    if (terraform) await fmtCheck("gcs-flat", guide.terraform);
  });

  it("azure_blob: a secretless app whose one federated credential matches the issuer, workspace and audience; Storage Blob Data Contributor on the container", async () => {
    const guide = (await setup("azure_blob")).body;
    assert.deepEqual(guide.relay_identity, {
      issuer: "https://relay.example.com",
      subject: workspace.id,
      audience: "api://AzureADTokenExchange",
    });
    const run = await runScript(
      "azure",
      fill(guide.cli, {
        SUBSCRIPTION: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee",
        RESOURCE_GROUP: "acme-rg",
        STORAGE_ACCOUNT: "acmerecordings",
        CONTAINER: "conversation-recordings",
      }),
    );
    assert.equal(run.status, 0, run.stderr);
    const federation = JSON.parse(await run.file("recording-relay-federation.json"));
    assert.equal(federation.issuer, "https://relay.example.com");
    assert.equal(federation.subject, workspace.id);
    assert.deepEqual(federation.audiences, ["api://AzureADTokenExchange"]);
    const calls = run.calls.join("\n");
    assert.match(
      calls,
      /^az role assignment create --assignee-object-id 11111111-2222-4333-8444-555555555555 --assignee-principal-type ServicePrincipal --role Storage Blob Data Contributor --scope \/subscriptions\/aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee\/resourceGroups\/acme-rg\/providers\/Microsoft.Storage\/storageAccounts\/acmerecordings\/blobServices\/default\/containers\/conversation-recordings$/m,
    );
    assert.doesNotMatch(calls, /credential reset|password|--years/, "no secret is ever created");
    assert.deepEqual(JSON.parse(run.stdout), {
      provider: "azure_blob",
      tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47",
      client_id: "0f3a1c2e-5b6d-4e7f-8a9b-0c1d2e3f4a5b",
      storage_account: "acmerecordings",
      container: "conversation-recordings",
      key_template: "tavus/{conversation_id}/{epoch_ms}",
    });
    assert.match(guide.terraform, /audiences {6}= \["api:\/\/AzureADTokenExchange"\]/);
    assert.match(guide.terraform, /subscription_id = var.subscription_id/);
  });

  it("every provider's Terraform passes terraform fmt -check", {
    skip: terraform ? false : "terraform is not installed",
  }, async () => {
    for (const provider of ["s3", "gcs", "azure_blob"]) {
      await fmtCheck(provider, (await setup(provider)).body.terraform);
    }
    assert.ok(execFileSync("terraform", ["version"], { encoding: "utf8" }).startsWith("Terraform"));
  });

  it("an http:// issuer: every guide that trusts it warns at the top of the script and the Terraform, and in a note", async () => {
    const plain = await startTestRelay("postgres", {
      trust: testTrust({ issuerUrl: "http://relay.example.com", awsAuthMode: "web_identity" }),
    });
    try {
      const { apiKey } = await plain.workspace();
      for (const provider of ["s3", "gcs", "azure_blob"]) {
        const guide = (
          await plain.call("GET", `/v2/recording-storage/setup/${provider}`, { apiKey })
        ).body;
        const head = (text: string) => text.split("\n").slice(0, 12).join("\n");
        assert.match(
          head(guide.cli),
          /^# WARNING: the relay's issuer http:\/\/relay\.example\.com is not https/m,
          provider,
        );
        assert.match(
          head(guide.terraform),
          /^# WARNING: the relay's issuer http:\/\/relay\.example\.com is not https/m,
          provider,
        );
        assert.ok(
          guide.notes.some((note: string) => /not https.*(Google|AWS|Entra)/.test(note)),
          `${provider}: ${guide.notes.join("\n")}`,
        );
        // The script also says it when run, before it changes anything.
        const run = await runScript(`http-${provider}`, guide.cli);
        assert.match(run.stderr, /WARNING: the relay's issuer .* is not https/, provider);
        if (terraform) await fmtCheck(`http-${provider}`, guide.terraform);
      }
    } finally {
      await plain.close();
    }
    // An https issuer gets no warning.
    for (const provider of ["gcs", "azure_blob"]) {
      const guide = (await setup(provider)).body;
      assert.doesNotMatch(
        `${guide.cli}${guide.terraform}${guide.notes.join("")}`,
        /WARNING|not https/,
      );
    }
  });

  it("answers 400 for an unknown provider", async () => {
    const answer = await setup("dropbox");
    assert.equal(answer.status, 400);
    assert.equal(answer.body.error.field, "path.provider");
    assert.match(answer.body.error.message, /must be one of s3, gcs, azure_blob/);
  });
});

describe("the S3 web identity guide against the AWS emulator", () => {
  let issuer: RelayIssuer;
  before(async () => {
    issuer = await startRelayIssuer();
  });
  after(async () => await issuer?.stop());

  /** Runs the guide of `authMode` as the emulated customer; returns its trust and OIDC provider. */
  async function customerRuns(authMode: "assume_role" | "web_identity", workspaceId: string) {
    const guide = generateSetup("s3", {
      workspaceId,
      trust: destinationTrust(issuer.url, { awsAuthMode: authMode }),
      keyTemplate: "tavus/{conversation_id}/{epoch_ms}",
      known: undefined,
    });
    const run = await runScript(
      `s3-emulated-${authMode}`,
      fill(guide.cli, { BUCKET: AWS_DEMO.bucket, BUCKET_REGION: AWS_DEMO.region }),
      { STUB_ACCOUNT: AWS_DEMO.customerAccountId },
    );
    assert.equal(run.status, 0, run.stderr);
    const created = run.calls
      .find((call) => call.startsWith("aws iam create-open-id-connect-provider "))
      ?.match(/--url (\S+) --client-id-list (\S+)$/);
    return {
      trustPolicy: JSON.parse(
        await run.file("recording-relay-trust.json"),
      ) as RoleConfig["trustPolicy"],
      provider: created && { url: created[1]!, clientIds: [created[2]!] },
    };
  }

  /** Verifies the emulated customer's destination from a relay in web_identity mode. */
  async function verifyWith(
    workspaceId: string,
    customer: Awaited<ReturnType<typeof customerRuns>>,
  ) {
    const rig = await awsRig(
      issuer.url,
      workspaceId,
      (config) => {
        config.oidcProviders = customer.provider
          ? [{ accountId: AWS_DEMO.customerAccountId, ...customer.provider }]
          : [];
        const role = config.roles?.find((r) => r.arn === AWS_DEMO.webIdentityRoleArn) as RoleConfig;
        role.trustPolicy = customer.trustPolicy;
      },
      { assume_role_arn: AWS_DEMO.webIdentityRoleArn },
    );
    try {
      const settings = emulatorSettings({ aws: rig.aws.endpoint, awsAuthMode: "web_identity" });
      const destination = factoryFor({
        issuer,
        settings,
        trust: { awsAuthMode: "web_identity", awsAccountId: undefined },
      })(rig.storage, { workspaceId });
      return await verifyDestination(
        destination,
        "tavus/{conversation_id}/{epoch_ms}",
        testSignal(),
      );
    } finally {
      await rig.stop();
    }
  }

  it("a relay in web_identity mode verifies the destination the guide set up", async () => {
    const workspaceId = newWorkspaceId();
    const customer = await customerRuns("web_identity", workspaceId);
    assert.ok(customer.provider, "the guide creates the IAM OIDC provider");
    const report = await verifyWith(workspaceId, customer);
    assert.equal(report.ok, true, JSON.stringify(report.steps));
    assert.deepEqual(
      report.steps.map((step) => step.status),
      ["pass", "skip", "pass", "pass", "pass"],
    );
  });

  it("the AssumeRole trust (the operator's account root) does not let web identity in", async () => {
    const workspaceId = newWorkspaceId();
    const webCustomer = await customerRuns("web_identity", workspaceId);
    const oldCustomer = await customerRuns("assume_role", workspaceId);
    const report = await verifyWith(workspaceId, {
      trustPolicy: oldCustomer.trustPolicy,
      provider: webCustomer.provider,
    });
    assert.equal(report.ok, false);
    assert.equal(report.steps[0]?.step, "identity_exchange");
    assert.equal(report.steps[0]?.error_code, "DESTINATION_AUTH_FAILED");
    assert.equal(report.steps[0]?.cloud_code, "AccessDenied");
  });
});
