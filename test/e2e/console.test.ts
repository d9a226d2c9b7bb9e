/**
 * The console in a real browser (Debian's chromium through playwright-core; nothing downloads a
 * browser) against a relay and the cloud emulators: what a customer and an operator see and do,
 * the session's end, CSRF refusals, and an axe-core accessibility check of the main pages.
 *
 * `RELAY_CONSOLE_SCREENSHOTS=docs/console npm test -- test/e2e/console.test.ts` also saves the
 * screenshots the README links to.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { testOperatorToken } from "../helpers/app-deps.ts";
import { testBytes } from "../helpers/bytes.ts";
import {
  connectReceiver,
  type InProcessRelay,
  prepareRig,
  type RigEnvironment,
  startRigServer,
  startWebhookReceiver,
  type WebhookReceiver,
  waitUntil,
} from "../helpers/delivery-rig.ts";

const chromiumPath = "/usr/bin/chromium";
const screenshots = process.env.RELAY_CONSOLE_SCREENSHOTS;
const axeSource = await readFile(
  createRequire(import.meta.url).resolve("axe-core/axe.min.js"),
  "utf8",
);

async function shot(page: Page, name: string): Promise<void> {
  if (!screenshots) return;
  await mkdir(screenshots, { recursive: true });
  await page.screenshot({ path: join(screenshots, `${name}.png`), fullPage: true });
}

/** What the tests read of the page's globals (they are type-checked without the DOM library). */
interface PageGlobals {
  document: { cookie: string; documentElement: { scrollWidth: number } };
  localStorage: object;
  sessionStorage: object;
  axe: {
    run(
      context: unknown,
      options: object,
    ): Promise<{ violations: { id: string; impact: string; help: string; nodes: unknown[] }[] }>;
  };
}

/** axe-core in the page (evaluated over the DevTools protocol, so the page's CSP stays strict). */
async function assertAccessible(page: Page, what: string): Promise<void> {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as PageGlobals).axe.run(
      (globalThis as unknown as PageGlobals).document,
      {
        resultTypes: ["violations"],
      },
    );
    return (
      result.violations as { id: string; impact: string; help: string; nodes: unknown[] }[]
    ).map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.length }));
  });
  const serious = violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  assert.deepEqual(serious, [], `${what}: ${JSON.stringify(serious)}`);
}

async function signIn(page: Page, base: string, credential: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.waitForURL(/\/console\/sign-in/);
  await page.getByLabel("API key or operator token").fill(credential);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Clicks Refresh until the row of `recordingId` shows `text`. */
async function waitForRow(page: Page, recordingId: string, text: RegExp): Promise<void> {
  const row = page.locator("tr", { hasText: recordingId });
  await waitUntil(
    async () => {
      await page.getByRole("button", { name: "Refresh" }).click();
      await page.getByRole("status").filter({ hasText: "Loading recordings" }).waitFor({
        state: "detached",
      });
      return (await row.count()) === 1 && text.test(await row.innerText());
    },
    `recording ${recordingId} to show ${text}`,
    60_000,
    250,
  );
}

describe("console", { skip: !existsSync(chromiumPath) && "needs Debian's chromium" }, () => {
  let rig: RigEnvironment;
  let relay: InProcessRelay;
  let receiver: WebhookReceiver;
  let browser: Browser;
  let base: string;

  before(async () => {
    receiver = await startWebhookReceiver();
    rig = await prepareRig("embedded", {
      RELAY_DELIVERY_RETRY_BUDGET_MINUTES: "0",
      RELAY_DELIVERY_CONFIG_RETRY_BUDGET_MINUTES: "0",
      RELAY_DELIVERY_CONFIG_RETRY_BASE_MS: "50",
    });
    relay = await startRigServer(rig);
    base = relay.server.url;
    await connectReceiver(relay.call, receiver);
    browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox"] });
  });
  after(async () => {
    await browser?.close();
    await relay?.close();
    await receiver?.close();
    await rig?.stop();
  });

  async function streamRecording(seed: number): Promise<string> {
    const conversation = await relay.call("POST", "/v2/conversations", {
      json: { properties: { enable_recording: true, callback_url: receiver.url } },
    });
    assert.equal(conversation.status, 201, JSON.stringify(conversation.body));
    const answer = await relay.call(
      "POST",
      `/v2/conversations/${conversation.body.conversation_id}/recordings`,
      { operator: true, bytes: testBytes(300_000, seed) },
    );
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    return answer.body.recording_id as string;
  }

  it("a customer connects GCS, watches deliveries, fixes a failure, resends an event; the operator sees it; sign-out ends it", async () => {
    const customer: BrowserContext = await browser.newContext({
      viewport: { width: 1280, height: 900 },
    });
    const page = await customer.newPage();
    const cspErrors: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error") cspErrors.push(message.text());
    });

    // No session: every page sends to sign-in.
    await page.goto(`${base}/console/recordings`);
    await page.waitForURL(/\/console\/sign-in\?next=%2Fconsole%2Frecordings/);
    await shot(page, "sign-in");
    await assertAccessible(page, "sign-in");
    await page.getByLabel("API key or operator token").fill("rrk_0123456789abcdef_wrong");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").filter({ hasText: "Could not sign in" }).waitFor();
    await page.getByLabel("API key or operator token").fill(rig.workspace.apiKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Recordings", level: 1 }).waitFor();
    await page.getByText("No recordings match.").waitFor();
    assert.match(await page.locator(".who").innerText(), new RegExp(rig.workspace.id));
    // The cookie is HttpOnly, SameSite=Strict and the key is nowhere in the browser's storage.
    const [cookie] = await customer.cookies();
    assert.equal(cookie?.httpOnly, true);
    assert.equal(cookie?.sameSite, "Strict");
    assert.ok(cookie.expires > Date.now() / 1000 + 7 * 3600);
    const stored = await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals;
      return JSON.stringify({ ...g.localStorage, ...g.sessionStorage }) + g.document.cookie;
    });
    assert.ok(!stored.includes(rig.workspace.apiKey));

    // Connect storage: GCS through the form, a bad key template refused inline, Verify passes.
    await page.getByRole("link", { name: "Connect storage" }).click();
    await page.getByRole("heading", { name: "Connect storage" }).waitFor();
    await page.getByLabel("Google Cloud Storage").check();
    const gcs = rig.emulators.destinations.gcs as unknown as Record<string, string>;
    for (const [field, label] of [
      ["bucket_name", "Bucket name"],
      ["project_number", "Project number"],
      ["workload_identity_pool_id", "Workload identity pool id"],
      ["workload_identity_provider_id", "Workload identity provider id"],
      ["service_account_email", "Service account email"],
    ] as const) {
      await page.getByLabel(label, { exact: true }).fill(gcs[field]!);
    }
    const template = page.getByLabel("Key template (optional)");
    await template.fill("calls/{conversation_id}/{epoch_ms}");
    assert.match(
      await page.locator("#key-example").innerText(),
      /Example key: calls\/[0-9a-f-]{36}\/\d{13}/,
    );
    await template.fill("calls/{room}/{epoch_ms}");
    await page.getByRole("button", { name: "Save destination" }).click();
    const inline = page.locator("#f-key_template-error");
    await inline.waitFor();
    assert.match(await inline.innerText(), /\{room\}|placeholder/i);
    assert.equal(await template.getAttribute("aria-invalid"), "true");
    await page.getByRole("alert").filter({ hasText: "Fix the highlighted field" }).waitFor();
    await template.fill("calls/{conversation_id}/{epoch_ms}");
    await page.getByRole("tab", { name: "Terraform" }).click();
    await page.getByRole("tabpanel").filter({ hasText: "resource" }).waitFor();
    await page.getByRole("button", { name: "Verify" }).click();
    await page.getByText("The relay can write to this destination.").waitFor({ timeout: 30_000 });
    const steps = await page.locator(".steps li").allInnerTexts();
    assert.deepEqual(
      steps.map((s) => s.split("\n")[0]?.replace(/ — .*/, "")),
      [
        "pass identity exchange",
        "pass impersonation",
        "pass probe write",
        "pass probe delete",
        "pass safety",
      ],
    );
    await page.getByRole("button", { name: "Save destination" }).click();
    await page.getByText("Saved. New conversations deliver here").waitFor();
    await shot(page, "connect-storage");
    await assertAccessible(page, "connect storage");

    // Health: the saved destination, not yet checked by a worker.
    await page.getByRole("link", { name: "Health" }).click();
    await page.getByRole("heading", { name: "Destination health" }).waitFor();
    const healthTable = await page.locator("table").innerText();
    assert.match(healthTable, /Status\s+unknown/);
    assert.match(healthTable, /Last checked\s+not yet/);
    await assertAccessible(page, "health");

    // A recording streamed through the API appears as delivered, at its gs:// URI.
    const delivered = await streamRecording(1);
    await page.getByRole("link", { name: "Recordings" }).click();
    await waitForRow(page, delivered, /delivered/);
    const row = await page.locator("tr", { hasText: delivered }).innerText();
    assert.match(row, new RegExp(`gs://${gcs.bucket_name}/calls/`));
    assert.match(row, /293\.0 KiB/);

    // The destination breaks: the failure shows with its hint.
    rig.emulators.gcp.setFaults({ errorRate: 1, errorStatuses: [503] });
    const broken = await streamRecording(2);
    await waitForRow(page, broken, /failed/);
    const failedRow = await page.locator("tr", { hasText: broken }).innerText();
    assert.match(failedRow, /DESTINATION_UNAVAILABLE/);
    assert.match(failedRow, /Hint: /);
    await shot(page, "recordings");
    await assertAccessible(page, "recordings");

    // The operator sees it in the overview.
    const operator = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const opPage = await operator.newPage();
    await signIn(opPage, base, testOperatorToken);
    await opPage.getByRole("heading", { name: "Delivery overview" }).waitFor();
    const failures = opPage.getByRole("region", { name: "Failures in the last 24 hours" });
    assert.match(await failures.innerText(), /DESTINATION_UNAVAILABLE\s+gcs\s+1/);
    const recent = await opPage.getByRole("region", { name: "Recent failures" }).innerText();
    assert.match(recent, new RegExp(rig.workspace.id));
    assert.match(recent, /Hint: /);
    await shot(opPage, "operator-overview");
    await assertAccessible(opPage, "overview");
    await opPage.getByRole("link", { name: "Workspaces" }).click();
    await opPage.getByRole("cell", { name: "Acme", exact: true }).waitFor();
    await opPage.getByRole("button", { name: "Create API key for Acme" }).click();
    assert.match(await opPage.locator("code.secret").innerText(), /^rrk_[0-9a-f]{16}_/);
    await shot(opPage, "operator-workspaces");
    await assertAccessible(opPage, "workspaces");
    await opPage.getByRole("link", { name: "Signing keys" }).click();
    await opPage.getByRole("cell", { name: "signing" }).first().waitFor();
    await opPage.getByRole("button", { name: "Emergency rotation…" }).click();
    await opPage.getByRole("dialog", { name: "Emergency rotation" }).waitFor();
    await opPage.getByRole("button", { name: "Cancel" }).click();
    await shot(opPage, "operator-signing-keys");
    await assertAccessible(opPage, "signing keys");
    await operator.close();

    // Fixed at the customer's end, redelivered from the page.
    rig.emulators.gcp.setFaults({ errorRate: 0 });
    await page.getByRole("button", { name: `Redeliver recording ${broken}` }).click();
    await page.getByText(`Recording ${broken} queued for delivery again.`).waitFor();
    await waitForRow(page, broken, /delivered/);

    // Webhooks: the event log with its attempts, a resend, a rotation shown once.
    await receiver.waitFor((events) =>
      events.some(
        (e) =>
          e.body.event_type === "application.recording_ready" &&
          e.body.properties.recording_id === broken,
      ),
    );
    await page.getByRole("link", { name: "Webhooks" }).click();
    await page.getByRole("heading", { name: "Event log" }).waitFor();
    const readyRow = page.locator("tr", { hasText: "recording_ready" }).first();
    await readyRow.waitFor();
    assert.match(await readyRow.innerText(), /delivered\s+1/);
    await readyRow.getByRole("button", { name: /Resend event/ }).click();
    await page.getByText(/will be sent again now/).waitFor();
    await waitUntil(
      async () => {
        await page.getByRole("button", { name: "Refresh" }).click();
        return /delivered\s+2/.test(
          await page.locator("tr", { hasText: "recording_ready" }).first().innerText(),
        );
      },
      "the resent event's second attempt",
      30_000,
      300,
    );
    await page.locator("tr", { hasText: "recording_ready" }).first().locator("summary").click();
    assert.match(await page.locator("details[open]").innerText(), /\t20[04]\t/);
    await page.getByRole("button", { name: "Rotate signing secret" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Rotate" }).click();
    const secret = await page.locator("#new-secret").innerText();
    assert.match(secret, /^whsec_/);
    receiver.setSecret(secret);
    await shot(page, "webhooks");
    await assertAccessible(page, "webhooks");

    // Narrow screens and dark mode.
    const phone = await browser.newContext({
      viewport: { width: 360, height: 780 },
      colorScheme: "dark",
    });
    const phonePage = await phone.newPage();
    await signIn(phonePage, base, rig.workspace.apiKey);
    await phonePage.getByRole("heading", { name: "Recordings", level: 1 }).waitFor();
    await phonePage.locator("tr", { hasText: broken }).waitFor();
    const width = await phonePage.evaluate(
      () => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth,
    );
    assert.ok(width <= 360, `the page is ${width} px wide at 360 px`);
    await shot(phonePage, "recordings-phone-dark");
    await phone.close();

    // Sign-out ends the session, also for a copy of the cookie.
    const [before] = await customer.cookies();
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.waitForURL(/\/console\/sign-in/);
    await page.goto(`${base}/console/webhooks`);
    await page.waitForURL(/\/console\/sign-in/);
    const replay = await fetch(`${base}/v2/recordings`, {
      headers: { cookie: `${before!.name}=${before!.value}` },
    });
    assert.equal(replay.status, 401);
    assert.deepEqual(
      cspErrors.filter((e) => /Content Security Policy/.test(e)),
      [],
    );
    await customer.close();
  });

  it("refuses every page and API call without a session, and cross-site or token-less changes with one", async () => {
    // Without a session: pages send to sign-in, the API and the session answer 401.
    for (const path of [
      "/console/",
      "/console/recordings",
      "/console/overview",
      "/console/storage",
    ]) {
      const answer = await fetch(`${base}${path}`, { redirect: "manual" });
      assert.equal(answer.status, path === "/console/" ? 303 : 303, path);
      assert.match(answer.headers.get("location") ?? "", /^\/console\/sign-in/);
    }
    assert.equal(
      (await fetch(`${base}/`, { redirect: "manual" })).headers.get("location"),
      "/console/",
    );
    assert.equal((await fetch(`${base}/v2/recordings`)).status, 401);
    assert.equal((await fetch(`${base}/console/session`)).status, 401);
    const shell = await fetch(`${base}/console/sign-in`);
    assert.match(shell.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    assert.doesNotMatch(await shell.text(), /<script>|style=/);
    const script = await fetch(`${base}/console/assets/app.js`);
    assert.match(script.headers.get("content-type") ?? "", /^text\/javascript/);

    // With a session (signed in over HTTP, as the browser does).
    const signedIn = await fetch(`${base}/console/session`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ credential: rig.workspace.apiKey }),
    });
    assert.equal(signedIn.status, 200);
    const { csrf_token: csrf } = (await signedIn.json()) as { csrf_token: string };
    const cookie = (signedIn.headers.get("set-cookie") ?? "").split(";")[0]!;
    assert.match(
      signedIn.headers.get("set-cookie") ?? "",
      /HttpOnly; SameSite=Strict; Max-Age=28800/,
    );
    assert.equal((await fetch(`${base}/v2/recordings`, { headers: { cookie } })).status, 200);
    const secretsBefore = (await relay.call("GET", "/v2/webhook-secret")).body.data.length;
    const rotate = (headers: Record<string, string>) =>
      fetch(`${base}/v2/webhook-secret/rotate`, {
        method: "POST",
        headers: { cookie, ...headers },
      });
    const noToken = await rotate({});
    assert.equal(noToken.status, 403);
    assert.equal(
      ((await noToken.json()) as { error: { code: string } }).error.code,
      "CSRF_REJECTED",
    );
    assert.equal((await rotate({ "x-csrf-token": "x".repeat(32) })).status, 403);
    assert.equal(
      (await rotate({ "x-csrf-token": csrf, "sec-fetch-site": "cross-site" })).status,
      403,
    );
    assert.equal(
      (await rotate({ "x-csrf-token": csrf, origin: "http://evil.example" })).status,
      403,
    );
    assert.equal((await relay.call("GET", "/v2/webhook-secret")).body.data.length, secretsBefore);

    // A cross-site form post in the browser, from another site, while signed in: refused.
    const evil: Server = createServer((request, response) => {
      response.writeHead(200, { "content-type": "text/html" });
      response.end(
        request.url === "/sign-in"
          ? `<form id="f" method="POST" action="${base}/console/session" enctype="text/plain"><input name='{"credential":"${testOperatorToken}","x":"' value='"}'></form>` +
              `<script>document.getElementById("f").submit()</script>`
          : `<form id="f" method="POST" action="${base}/v2/webhook-secret/rotate"><input name="a" value="b"></form>` +
              `<script>document.getElementById("f").submit()</script>`,
      );
    });
    await new Promise<void>((resolve) => evil.listen(0, "127.0.0.1", resolve));
    const evilPort = (evil.address() as { port: number }).port;
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await signIn(page, base, rig.workspace.apiKey);
      await page.getByRole("heading", { name: "Recordings", level: 1 }).waitFor();
      // localhost is another site than 127.0.0.1 for the browser.
      const posted = page.waitForResponse((r) => r.url().endsWith("/v2/webhook-secret/rotate"));
      await page.goto(`http://localhost:${evilPort}/`);
      const answer = await posted;
      assert.ok([401, 403, 415].includes(answer.status()), `status ${answer.status()}`);
      assert.equal((await relay.call("GET", "/v2/webhook-secret")).body.data.length, secretsBefore);
      // A cross-site form cannot sign anyone in either.
      const signInAnswer = page.waitForResponse((r) => r.url().endsWith("/console/session"));
      await page.goto(`http://localhost:${evilPort}/sign-in`);
      assert.ok([403, 415].includes((await signInAnswer).status()));
    } finally {
      await context.close();
      evil.close();
    }
  });
});
