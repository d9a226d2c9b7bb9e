// The operator's pages: delivery overview, workspaces and API keys, signing keys.
import {
  act,
  api,
  confirmDialog,
  copy,
  empty,
  fill,
  formatTime,
  h,
  loading,
  splitHint,
  stateBadge,
  table,
} from "./lib.js";

function age(seconds) {
  if (!seconds) return "none queued";
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${Math.round(seconds / 3600)} h`;
}

async function overviewPage(main) {
  const [overview, ready, failed] = await Promise.all([
    api("GET", "/v2/delivery-overview"),
    fetch("/readyz")
      .then((r) => r.json())
      .catch(() => null),
    api("GET", "/v2/recordings?state=failed&limit=10"),
  ]);
  const states = ["receiving", "complete", "delivered", "failed", "purged"];
  const warnings = ready?.warnings ?? [];
  fill(
    main,
    h("h1", {}, "Delivery overview"),
    h(
      "p",
      { class: "lead" },
      "Every workspace's recordings, the queue, and what failed in the last 24 hours. As of ",
      formatTime(overview.generated_at),
      ".",
    ),
    ready && ready.status !== "ready"
      ? h(
          "div",
          { class: "notice bad", role: "alert" },
          `Not ready: ${ready.error?.message ?? "a dependency does not answer"}`,
        )
      : null,
    h(
      "section",
      { "aria-labelledby": "sc-h" },
      h("h2", { id: "sc-h" }, "Start-up self-check"),
      warnings.length === 0
        ? h("div", { class: "notice ok" }, "No warnings: the operator setup checked out at start.")
        : warnings.map((w) =>
            h(
              "div",
              { class: "notice warn" },
              h("p", {}, h("strong", {}, `${w.check} (${w.code}): `), w.message),
            ),
          ),
    ),
    h("h2", {}, "Recordings by state"),
    h(
      "div",
      { class: "grid" },
      states.map((s) =>
        h(
          "a",
          { class: "stat", href: `/console/recordings?state=${s}` },
          h("span", { class: "n" }, String(overview.recordings_by_state[s] ?? 0)),
          h("span", { class: "l" }, s),
        ),
      ),
      h(
        "div",
        { class: "stat" },
        h("span", { class: "n" }, String(overview.queue.queued + overview.queue.running)),
        h(
          "span",
          { class: "l" },
          `in the queue (${overview.queue.running} running); oldest queued: ${age(overview.queue.oldest_queued_age_seconds)}`,
        ),
      ),
    ),
    h(
      "section",
      { "aria-labelledby": "f24-h" },
      h("h2", { id: "f24-h" }, "Failures in the last 24 hours"),
      overview.failures_last_24h.length === 0
        ? empty("No failed deliveries in the last 24 hours.", "Nothing to do.")
        : table(
            "Failures by error code and provider",
            ["Error code", "Provider", "Recordings"],
            overview.failures_last_24h.map((f) => [
              h(
                "a",
                {
                  href: `/console/recordings?state=failed&error_code=${encodeURIComponent(f.error_code)}&provider=${f.provider}`,
                },
                f.error_code,
              ),
              f.provider,
              { num: String(f.count) },
            ]),
          ),
    ),
    h(
      "section",
      { "aria-labelledby": "rf-h" },
      h("h2", { id: "rf-h" }, "Recent failures"),
      failed.data.length === 0
        ? empty(
            "No failed recordings.",
            "Failures of any workspace show up here with the cloud's message and the fix.",
          )
        : table(
            "Recent failures",
            ["Created", "Workspace", "Storage URI", "Error", "Attempts"],
            failed.data.map((r) => {
              const { text, hint } = splitHint(r.delivery?.error_message);
              return [
                formatTime(r.created_at),
                h(
                  "a",
                  { href: `/console/recordings?workspace_id=${r.workspace_id}&state=failed` },
                  h("code", {}, r.workspace_id),
                ),
                h("code", {}, r.storage_uri),
                h(
                  "div",
                  {},
                  h("code", {}, r.delivery?.error_code ?? "—"),
                  text ? h("div", {}, text) : null,
                  hint ? h("div", { class: "hint" }, h("strong", {}, "Hint: "), hint) : null,
                ),
                { num: String(r.delivery?.attempts ?? 0) },
              ];
            }),
          ),
    ),
  );
}

async function workspacesPage(main) {
  const list = h("div", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  const nameInput = h("input", {
    type: "text",
    id: "ws-name",
    name: "name",
    required: true,
    maxlength: "200",
    "aria-describedby": "ws-name-help",
  });
  const create = h("button", { type: "submit", class: "primary" }, "Create workspace");

  async function load() {
    const answer = await api("GET", "/v2/workspaces");
    fill(
      list,
      answer.data.length === 0
        ? empty("No workspaces yet.", "Create one above, then give its API key to the customer.")
        : table(
            "Workspaces",
            ["Name", "Workspace ID", "Created", "API keys"],
            answer.data.map((w) => {
              const button = h(
                "button",
                { type: "button", "aria-label": `Create API key for ${w.name}` },
                "Create API key",
              );
              button.addEventListener("click", () =>
                act(button, status, async () => {
                  const key = await api("POST", `/v2/workspaces/${w.workspace_id}/api-keys`);
                  const copyButton = h("button", { type: "button" }, "Copy");
                  copyButton.addEventListener("click", () => copy(key.api_key, copyButton));
                  fill(
                    status,
                    h(
                      "div",
                      { class: "notice warn", role: "status" },
                      h(
                        "p",
                        {},
                        h("strong", {}, `API key for ${w.name} — shown only this once.`),
                        " Hand it to the customer over a safe channel.",
                      ),
                      h("code", { class: "secret" }, key.api_key),
                      h("div", { class: "actions" }, copyButton),
                    ),
                  );
                }),
              );
              return [w.name, h("code", {}, w.workspace_id), formatTime(w.created_at), button];
            }),
          ),
    );
  }

  fill(
    main,
    h("h1", {}, "Workspaces"),
    h(
      "p",
      { class: "lead" },
      "One workspace per customer. Its Workspace ID is what the customer's trust names.",
    ),
    h(
      "form",
      {
        class: "card",
        onsubmit: (e) => {
          e.preventDefault();
          act(create, status, async () => {
            const created = await api("POST", "/v2/workspaces", { name: nameInput.value });
            nameInput.value = "";
            await load();
            return `Workspace ${created.name} created (${created.workspace_id}). Create an API key for it below.`;
          });
        },
      },
      h(
        "div",
        { class: "field" },
        h("label", { for: "ws-name" }, "New workspace name"),
        nameInput,
        h(
          "p",
          { class: "help", id: "ws-name-help" },
          "1–200 characters, usually the customer's name.",
        ),
      ),
      h("div", { class: "actions" }, create),
    ),
    status,
    list,
  );
  fill(list, loading());
  await load();
}

async function keysPage(main) {
  const list = h("div", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  const rotate = h("button", { type: "button" }, "Rotate (scheduled)");
  const emergency = h("button", { type: "button", class: "danger" }, "Emergency rotation…");

  async function load() {
    const keys = await api("GET", "/v2/signing-keys");
    fill(
      list,
      keys.data.length === 0
        ? empty("No signing keys.", "The relay creates its first key at start.")
        : table(
            "Signing keys",
            ["Key id", "State", "Published", "Signs from", "Retires", "Leaves JWKS"],
            keys.data.map((k) => [
              h("code", {}, k.kid),
              stateBadge(k.state),
              formatTime(k.publish_at),
              formatTime(k.activate_at),
              formatTime(k.retire_at),
              formatTime(k.unpublish_at),
            ]),
          ),
    );
  }
  rotate.addEventListener("click", () =>
    act(rotate, status, async () => {
      const outcome = await api("POST", "/v2/signing-keys/rotate");
      await load();
      return outcome.result === "already_pending"
        ? `A successor (${outcome.kid}) already waits; it signs from ${new Date(outcome.activate_at).toLocaleString()}.`
        : `New key ${outcome.kid} published; it signs from ${outcome.activate_at ? new Date(outcome.activate_at).toLocaleString() : "its scheduled time"}.`;
    }),
  );
  emergency.addEventListener("click", async () => {
    const ok = await confirmDialog(
      "Emergency rotation",
      "Only for a compromised key. A new key signs now and every other key leaves the JWKS now: tokens already issued are refused, and clouds that cached the old JWKS refuse new tokens for up to 5 minutes, so some deliveries fail once and retry.",
      "Rotate now and withdraw all other keys",
    );
    if (!ok) return;
    act(emergency, status, async () => {
      const outcome = await api("POST", "/v2/signing-keys/emergency-rotate");
      await load();
      return `Key ${outcome.kid} signs now; withdrawn: ${outcome.withdrawn.join(", ") || "none"}.`;
    });
  });
  fill(
    main,
    h("h1", {}, "Signing keys"),
    h(
      "p",
      { class: "lead" },
      "The keys the relay's OIDC issuer signs customer tokens with. A scheduled rotation publishes a successor that signs 24 hours later.",
    ),
    h("div", { class: "actions" }, rotate, emergency),
    status,
    h("h2", {}, "Keys"),
    list,
  );
  fill(list, loading());
  await load();
}

export const operatorPages = [
  { slug: "overview", title: "Overview", render: overviewPage },
  {
    slug: "recordings",
    title: "Recordings",
    render: (main, ctx) =>
      import("./customer.js").then((m) => m.customerPages[0].render(main, ctx)),
  },
  { slug: "workspaces", title: "Workspaces", render: workspacesPage },
  { slug: "keys", title: "Signing keys", render: keysPage },
];
