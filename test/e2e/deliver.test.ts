/**
 * `recording-relay deliver` as an operator runs it (child processes of the real executable)
 * against a relay child process on the embedded database with the emulated clouds: it resumes
 * after the relay is SIGKILLed mid-upload, `--wait` exits 0 with the `storage_uri` or 1 with the
 * error code and hint, usage and connection errors have their own exit codes, and on a terminal
 * (a pseudo-terminal made by util-linux `script`) it draws a progress bar.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { createRelayClient } from "../../src/client/index.ts";
import { testOperatorToken } from "../helpers/app-deps.ts";
import { sha256Hex, testBytes } from "../helpers/bytes.ts";
import {
  connectReceiver,
  createRecordedConversation,
  prepareRig,
  type RigEnvironment,
  relayClient,
  startWebhookReceiver,
  type WebhookReceiver,
  waitUntil,
} from "../helpers/delivery-rig.ts";
import { killAllRelays, runRelay, startRelay } from "../helpers/relay-process.ts";

const MiB = 1024 * 1024;
const executable = new URL("../../src/bin/recording-relay.js", import.meta.url).pathname;

describe("recording-relay deliver", () => {
  let rig: RigEnvironment;
  let receiver: WebhookReceiver;
  let relay: Awaited<ReturnType<typeof startRelay>>;
  let base: string;
  let dir: string;
  let s3Conversation: string;
  let brokenConversation: string;

  const startChild = async () => {
    relay = await startRelay(["--port", String(rig.port)], {
      ...rig.env,
      RELAY_DELIVERY_LEASE_SECONDS: "5",
    });
    base = relay.url;
  };
  const call = (...args: Parameters<ReturnType<typeof relayClient>>) =>
    relayClient(base, rig.workspace.apiKey)(...args);
  const deliverEnv = () => ({ RELAY_OPERATOR_TOKEN: testOperatorToken, RELAY_URL: base });
  const readyFor = (id: string) =>
    receiver.events.filter(
      (e) =>
        e.body.event_type === "application.recording_ready" &&
        e.body.properties.recording_id === id,
    );
  const file = async (name: string, bytes: Buffer) => {
    const path = join(dir, name);
    await writeFile(path, bytes);
    return path;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "deliver-test-"));
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded", {
      RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "50",
      RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
    });
    await startChild();
    await connectReceiver(call, receiver);
    s3Conversation = await createRecordedConversation(
      call,
      receiver,
      rig.emulators.destinations.s3,
    );
    brokenConversation = await createRecordedConversation(call, receiver, {
      ...rig.emulators.destinations.azure_blob,
      client_id: crypto.randomUUID(),
    });
  });
  after(async () => {
    killAllRelays();
    await receiver?.close();
    await rig?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("resumes after the relay is SIGKILLed mid-upload; --wait prints the storage_uri and exits 0", async () => {
    const bytes = testBytes(40 * MiB + 999, 21);
    const path = await file("call.mp4", bytes);
    const deliver = runRelay(
      [
        "deliver",
        path,
        "--conversation",
        s3Conversation,
        "--wait",
        "--chunk-mib",
        "2",
        "--progress-interval",
        "0.1",
      ],
      deliverEnv(),
    );
    // Once a progress line shows a few MiB sent, the relay dies and comes back.
    await waitUntil(
      () => /deliver: ([6-9]|\d\d)\.\d MiB of/.test(deliver.output()) || deliver.output(),
      "deliver under way",
    );
    relay.child.kill("SIGKILL");
    await relay.exited;
    await startChild();
    const { code } = await deliver.exited;
    const output = deliver.output();
    assert.equal(code, 0, output);
    assert.match(output, /asking the relay where to resume/);
    const uri = output.trim().split("\n").at(-1)!;
    assert.match(uri, /^s3:\/\//);
    const operator = createRelayClient({ baseUrl: base, operatorToken: testOperatorToken });
    const { data: page } = await operator.GET("/v2/recordings", {
      params: { query: { state: "delivered" } },
    });
    const recording = page?.data.find((r) => r.storage_uri === uri);
    assert.ok(recording, output);
    assert.deepEqual(await rig.emulators.storedDigest("s3", recording.key), {
      size: bytes.length,
      sha256: sha256Hex(bytes),
    });
    await waitUntil(() => readyFor(recording.recording_id).length > 0, "recording_ready");
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.equal(readyFor(recording.recording_id).length, 1);
  });

  it("--wait exits 1 with the error code, message and hint when the delivery fails", async () => {
    const path = await file("broken.mp4", testBytes(MiB, 22));
    const deliver = runRelay(
      ["deliver", path, "--conversation", brokenConversation, "--wait"],
      deliverEnv(),
    );
    const { code } = await deliver.exited;
    const output = deliver.output();
    assert.equal(code, 1, output);
    assert.match(output, /failed: DESTINATION_AUTH_FAILED: /);
    assert.match(output, /hint: .*trust.*redeliver/);
  });

  it("exits 2 on usage errors and 3 when the relay cannot be reached", async () => {
    const path = await file("small.mp4", testBytes(1000, 23));
    const missingFlag = runRelay(["deliver", path], deliverEnv());
    assert.equal((await missingFlag.exited).code, 2, missingFlag.output());
    const noFile = runRelay(
      ["deliver", join(dir, "absent.mp4"), "--conversation", s3Conversation],
      deliverEnv(),
    );
    assert.equal((await noFile.exited).code, 2, noFile.output());
    assert.match(noFile.output(), /no such file/);
    const unreachable = runRelay(
      ["deliver", path, "--conversation", s3Conversation, "--retry-seconds", "1"],
      { ...deliverEnv(), RELAY_URL: "http://127.0.0.1:9" },
    );
    assert.equal((await unreachable.exited).code, 3, unreachable.output());
    assert.match(unreachable.output(), /could not reach the relay/);
  });

  it("draws a progress bar on a terminal (a pseudo-terminal from `script`)", async () => {
    const path = await file("tty.mp4", testBytes(6 * MiB, 24));
    const command = [
      process.execPath,
      executable,
      "deliver",
      path,
      "--conversation",
      s3Conversation,
    ]
      .map((word) => `'${word}'`)
      .join(" ");
    const child = spawn("script", ["-qfec", command, "/dev/null"], {
      env: { PATH: process.env.PATH ?? "", TERM: "xterm", ...deliverEnv() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk) => {
      output += chunk;
    });
    child.stderr.on("data", (chunk) => {
      output += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    // cli-progress: the bar's blocks, the percentage, the rate and the ETA, redrawn in place.
    assert.match(output, /█/);
    assert.ok(output.includes("\u001b[1G"), "redrawn in place");
    assert.match(output, /100% \| 6\.0 MiB of 6\.0 MiB \| .*\/s \| ETA /);
    assert.match(output, /accepted: recording [0-9a-f-]{36} \(6291456 bytes\) → s3:\/\//);
    assert.doesNotMatch(output, /deliver: .* sent/, "no plain progress lines on a terminal");
  });
});
