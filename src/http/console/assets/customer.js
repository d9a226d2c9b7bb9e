// A workspace's own pages: connect storage, recordings, webhooks, destination health.
import {
  act,
  api,
  badge,
  confirmDialog,
  copy,
  empty,
  failure,
  fill,
  formatBytes,
  formatDuration,
  formatTime,
  h,
  loading,
  routesMatching,
  splitHint,
  stateBadge,
  table,
} from "./lib.js";

const providers = {
  gcs: {
    label: "Google Cloud Storage",
    fields: [
      [
        "bucket_name",
        "Bucket name",
        '3–63 of a-z 0-9 - _ . (up to 222 with dots); starts and ends with a letter or digit; no "google".',
      ],
      [
        "project_number",
        "Project number",
        "Digits only, no leading zero (gcloud projects describe PROJECT_ID --format='value(projectNumber)').",
      ],
      [
        "workload_identity_pool_id",
        "Workload identity pool id",
        "4–32 of a-z 0-9 -, not starting gcp-.",
      ],
      [
        "workload_identity_provider_id",
        "Workload identity provider id",
        "4–32 of a-z 0-9 -, not starting gcp-.",
      ],
      [
        "service_account_email",
        "Service account email",
        "<name>@<project-id>.iam.gserviceaccount.com, lowercase.",
      ],
    ],
  },
  s3: {
    label: "Amazon S3",
    fields: [
      [
        "bucket_name",
        "Bucket name",
        "3–63 of a-z 0-9 . -; starts and ends with a letter or digit.",
      ],
      [
        "bucket_region",
        "Bucket region",
        "An AWS region code such as eu-west-1 (not an availability zone).",
      ],
      [
        "assume_role_arn",
        "Role ARN",
        "arn:aws:iam::<12 digits>:role/<name>: the role trusting this relay.",
      ],
    ],
  },
  azure_blob: {
    label: "Azure Blob Storage",
    fields: [
      ["tenant_id", "Tenant id", "The Entra tenant's UUID (not its domain name)."],
      ["client_id", "Client id", "The App Registration's application (client) UUID."],
      [
        "storage_account",
        "Storage account",
        "3–24 of a-z 0-9: the name only, not …blob.core.windows.net.",
      ],
      ["container", "Container", "3–63 of a-z 0-9 -; no -- and not ending with -."],
    ],
  },
};

const sampleConversation = "3f2a9c1e-5b7d-4e8a-9c0f-1a2b3c4d5e6f";

/** The example key a template renders to, or the rule it breaks (the API has the last word). */
function exampleKey(template) {
  if (!template) return { key: "" };
  const leftover = template.replace(/\{conversation_id\}|\{epoch_ms\}/g, "");
  if (/[{}]/.test(leftover))
    return { problem: "Only {conversation_id} and {epoch_ms} are placeholders." };
  if (/[^A-Za-z0-9._/-]/.test(leftover))
    return { problem: "Use letters, digits, . / _ - and the placeholders only." };
  if (template.startsWith("/") || template.endsWith("/") || template.includes("//"))
    return { problem: "No leading or trailing /, and no empty segment (//)." };
  if (template.includes("..") || /(^|\/)\.(\/|$)/.test(template))
    return { problem: "No .. and no . segment." };
  return {
    key: template
      .replaceAll("{conversation_id}", sampleConversation)
      .replaceAll("{epoch_ms}", String(Date.now())),
    overwrites: !template.includes("{epoch_ms}"),
  };
}

async function storagePage(main) {
  let current = await api("GET", "/v2/recording-storage").catch((error) =>
    error.status === 404 ? null : Promise.reject(error),
  );
  const setupAvailable = true;
  let provider = current?.recording_storage?.provider ?? "gcs";
  const status = h("div", { "aria-live": "polite" });
  const verifyOut = h("div", { "aria-live": "polite" });
  const formArea = h("div");
  const guideArea = h("div");

  function values() {
    const body = { provider };
    for (const [name] of providers[provider].fields) {
      const value = document.getElementById(`f-${name}`).value.trim();
      if (value) body[name] = value;
    }
    const template = document.getElementById("f-key_template").value.trim();
    if (template) body.key_template = template;
    return body;
  }

  function clearErrors() {
    for (const el of formArea.querySelectorAll(".error-text")) el.remove();
    for (const el of formArea.querySelectorAll("[aria-invalid]")) {
      el.removeAttribute("aria-invalid");
      el.setAttribute("aria-describedby", `${el.id}-help`);
    }
  }

  /** Puts the API's validation message under the field it names. */
  function showApiError(error) {
    const name = error.field?.split(".").pop();
    const input = name ? document.getElementById(`f-${name}`) : null;
    if (input) {
      const id = `${input.id}-error`;
      input.after(h("p", { class: "error-text", id }, error.message));
      input.setAttribute("aria-invalid", "true");
      input.setAttribute("aria-describedby", `${id} ${input.id}-help`);
      input.focus();
      fill(
        status,
        h(
          "div",
          { class: "notice bad", role: "alert" },
          "Fix the highlighted field and try again.",
        ),
      );
    } else {
      fill(status, failure(error, "Not accepted"));
    }
  }

  function field(name, label, help, value) {
    return h(
      "div",
      { class: "field" },
      h("label", { for: `f-${name}` }, label),
      h("input", {
        type: "text",
        id: `f-${name}`,
        name,
        value: value ?? "",
        autocomplete: "off",
        spellcheck: "false",
        "aria-describedby": `f-${name}-help`,
      }),
      h("p", { class: "help", id: `f-${name}-help` }, help),
    );
  }

  function drawForm() {
    const saved =
      current?.recording_storage?.provider === provider ? current.recording_storage : {};
    const example = h("p", { class: "example", id: "key-example", "aria-live": "polite" });
    const templateInput = h("input", {
      type: "text",
      id: "f-key_template",
      name: "key_template",
      value: saved.key_template ?? "",
      placeholder: "tavus/{conversation_id}/{epoch_ms}",
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": "f-key_template-help key-example",
    });
    const showExample = () => {
      const result = exampleKey(templateInput.value.trim() || "tavus/{conversation_id}/{epoch_ms}");
      if (result.problem) fill(example, badge("check", "warn"), " ", result.problem);
      else
        fill(
          example,
          "Example key: ",
          h("code", {}, result.key),
          result.overwrites
            ? h(
                "span",
                { class: "error-text" },
                " Without {epoch_ms} every recording of a conversation overwrites the last.",
              )
            : null,
        );
    };
    templateInput.addEventListener("input", showExample);
    showExample();
    fill(
      formArea,
      providers[provider].fields.map(([name, label, help]) =>
        field(name, label, help, saved[name]),
      ),
      h(
        "div",
        { class: "field" },
        h("label", { for: "f-key_template" }, "Key template (optional)"),
        templateInput,
        h(
          "p",
          { class: "help", id: "f-key_template-help" },
          "Placeholders {conversation_id} and {epoch_ms}; letters, digits, . / _ -. Empty: the relay's default.",
        ),
        example,
      ),
    );
  }

  function drawGuide() {
    fill(guideArea, loading("Loading the setup guide…"));
    api("GET", `/v2/recording-storage/setup/${provider}`).then(
      (guide) => {
        const tabs = [
          [
            "shell",
            "Shell",
            typeof guide.cli === "string" ? guide.cli : JSON.stringify(guide.cli, null, 2),
          ],
          [
            "terraform",
            "Terraform",
            typeof guide.terraform === "string"
              ? guide.terraform
              : JSON.stringify(guide.terraform, null, 2),
          ],
        ];
        const panels = tabs.map(([id, , text]) => {
          const button = h("button", { type: "button" }, "Copy");
          button.addEventListener("click", () => copy(text, button));
          return h(
            "div",
            {
              role: "tabpanel",
              id: `panel-${id}`,
              "aria-labelledby": `tab-${id}`,
              tabindex: "0",
              hidden: id !== "shell",
            },
            h("div", { class: "actions" }, button),
            h("pre", { tabindex: "0", "aria-label": "Setup script" }, h("code", {}, text)),
          );
        });
        const tabButtons = tabs.map(([id, label], i) =>
          h(
            "button",
            {
              type: "button",
              role: "tab",
              id: `tab-${id}`,
              "aria-controls": `panel-${id}`,
              "aria-selected": i === 0 ? "true" : "false",
              tabindex: i === 0 ? "0" : "-1",
            },
            label,
          ),
        );
        const select = (index) =>
          tabButtons.forEach((tab, i) => {
            tab.setAttribute("aria-selected", String(i === index));
            tab.tabIndex = i === index ? 0 : -1;
            panels[i].hidden = i !== index;
            if (i === index) tab.focus();
          });
        tabButtons.forEach((tab, i) => {
          tab.addEventListener("click", () => select(i));
          tab.addEventListener("keydown", (e) => {
            if (e.key === "ArrowRight") select((i + 1) % tabs.length);
            if (e.key === "ArrowLeft") select((i + tabs.length - 1) % tabs.length);
          });
        });
        fill(
          guideArea,
          h(
            "p",
            { class: "muted" },
            "Run this in your cloud account to trust this relay for your workspace ",
            h("code", {}, guide.workspace_id),
            ". Values marked FILL IN are yours to supply.",
          ),
          (guide.notes ?? []).map((note) => h("div", { class: "notice warn" }, note)),
          h("div", { role: "tablist", "aria-label": "Setup format" }, tabButtons),
          panels,
        );
      },
      (error) => fill(guideArea, failure(error, "The setup guide is not available")),
    );
  }

  function verifySteps(result) {
    return h(
      "div",
      { class: `card` },
      h(
        "p",
        {},
        result.ok ? badge("Verified", "ok") : badge("Verify failed", "bad"),
        " ",
        result.ok
          ? "The relay can write to this destination."
          : "Fix the failing step below, then verify again.",
      ),
      h(
        "ul",
        { class: "steps" },
        result.steps.map((step) =>
          h(
            "li",
            {},
            stateBadge(step.status),
            " ",
            h("strong", {}, step.step.replaceAll("_", " ")),
            step.message ? ` — ${step.message}` : "",
            step.error_code
              ? h(
                  "div",
                  { class: "hint" },
                  `Error ${step.error_code}${step.cloud_code ? ` (cloud: ${step.cloud_code})` : ""}`,
                )
              : null,
            step.cloud_message
              ? h("div", { class: "hint" }, `The cloud said: ${step.cloud_message}`)
              : null,
            step.hint ? h("div", { class: "hint" }, `Hint: ${step.hint}`) : null,
          ),
        ),
      ),
    );
  }

  const radios = h(
    "div",
    { class: "choices" },
    Object.entries(providers).map(([id, p]) =>
      h(
        "label",
        {},
        h("input", {
          type: "radio",
          name: "provider",
          value: id,
          checked: id === provider,
          onchange: () => {
            provider = id;
            clearErrors();
            fill(status);
            fill(verifyOut);
            drawForm();
            drawGuide();
          },
        }),
        p.label,
      ),
    ),
  );
  const verifyButton = h("button", { type: "button" }, "Verify");
  const saveButton = h("button", { type: "submit", class: "primary" }, "Save destination");
  verifyButton.addEventListener("click", () =>
    act(verifyButton, null, async () => {
      clearErrors();
      fill(status);
      fill(
        verifyOut,
        loading("Verifying: identity exchange, impersonation, probe write and delete…"),
      );
      try {
        fill(verifyOut, verifySteps(await api("POST", "/v2/recording-storage/verify", values())));
      } catch (error) {
        fill(verifyOut);
        showApiError(error);
      }
    }),
  );
  const form = h(
    "form",
    {
      class: "card",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        act(saveButton, null, async () => {
          clearErrors();
          try {
            const saved = await api("PUT", "/v2/recording-storage", values());
            current = saved;
            fill(
              status,
              h(
                "div",
                { class: "notice ok", role: "status" },
                h(
                  "p",
                  {},
                  "Saved. New conversations deliver here; keys follow ",
                  h("code", {}, saved.effective_key_template),
                  ".",
                ),
                (saved.warnings ?? []).map((w) => h("p", {}, `Warning: ${w.message}`)),
              ),
            );
          } catch (error) {
            showApiError(error);
          }
        });
      },
    },
    h("fieldset", {}, h("legend", {}, "Cloud provider"), radios),
    formArea,
    status,
    h("div", { class: "actions" }, verifyButton, saveButton),
  );

  fill(
    main,
    h("h1", {}, "Connect storage"),
    h(
      "p",
      { class: "lead" },
      current
        ? [
            "Recordings go to ",
            h(
              "code",
              {},
              current.recording_storage.bucket_name ?? current.recording_storage.container ?? "",
            ),
            " (",
            providers[current.recording_storage.provider]?.label,
            "). Change it below.",
          ]
        : "No destination yet: choose your cloud, fill in the names from the setup guide, verify, then save.",
    ),
    h(
      "div",
      { class: "two-col" },
      h(
        "section",
        { "aria-labelledby": "dest-h" },
        h("h2", { id: "dest-h" }, "Destination"),
        form,
        verifyOut,
      ),
      setupAvailable
        ? h(
            "section",
            { "aria-labelledby": "guide-h" },
            h("h2", { id: "guide-h" }, "Setup guide"),
            guideArea,
          )
        : null,
    ),
  );
  drawForm();
  drawGuide();
}

function errorCell(delivery) {
  if (!delivery?.error_code) return "—";
  const { text, hint } = splitHint(delivery.error_message);
  return h(
    "div",
    {},
    h("code", {}, delivery.error_code),
    text ? h("div", {}, text) : null,
    hint ? h("div", { class: "hint" }, h("strong", {}, "Hint: "), hint) : null,
  );
}

async function recordingsPage(main, { session, params }) {
  const canDownload =
    (await routesMatching((p) => p === "/v2/recordings/{recording_id}/content")).length > 0;
  const filters = {
    state: params.get("state") ?? "",
    provider: params.get("provider") ?? "",
    error_code: params.get("error_code") ?? "",
    created_after: params.get("created_after") ?? "",
    workspace_id: params.get("workspace_id") ?? "",
  };
  const results = h("div", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  let cursor = null;

  const select = (name, label, options) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `q-${name}` }, label),
      h(
        "select",
        { id: `q-${name}`, name },
        options.map(([v, l]) => h("option", { value: v, selected: filters[name] === v }, l)),
      ),
    );
  const form = h(
    "form",
    {
      class: "filters",
      role: "search",
      "aria-label": "Filter recordings",
      onsubmit: (e) => {
        e.preventDefault();
        for (const name of Object.keys(filters)) {
          const el = form.elements.namedItem(name);
          if (el) filters[name] = el.value;
        }
        const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
        history.replaceState(null, "", `/console/recordings${query.size ? `?${query}` : ""}`);
        cursor = null;
        load(false);
      },
    },
    select("state", "State", [
      ["", "Any state"],
      ["receiving", "Receiving"],
      ["complete", "Complete (queued)"],
      ["delivered", "Delivered"],
      ["failed", "Failed"],
      ["purged", "Purged"],
    ]),
    select("provider", "Provider", [
      ["", "Any provider"],
      ["s3", "S3"],
      ["gcs", "GCS"],
      ["azure_blob", "Azure Blob"],
    ]),
    h(
      "div",
      { class: "field" },
      h("label", { for: "q-error_code" }, "Error code"),
      h("input", {
        type: "text",
        id: "q-error_code",
        name: "error_code",
        value: filters.error_code,
        placeholder: "DESTINATION_AUTH_FAILED",
      }),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "q-created_after" }, "Created after"),
      h("input", {
        type: "datetime-local",
        id: "q-created_after",
        name: "created_after",
        value: filters.created_after,
      }),
    ),
    session.kind === "operator"
      ? h(
          "div",
          { class: "field" },
          h("label", { for: "q-workspace_id" }, "Workspace id"),
          h("input", {
            type: "text",
            id: "q-workspace_id",
            name: "workspace_id",
            value: filters.workspace_id,
          }),
        )
      : null,
    h("button", { type: "submit" }, "Apply filters"),
    h("button", { type: "button", onclick: () => load(false) }, "Refresh"),
  );

  function row(r) {
    const actions = h("div", { class: "actions" });
    if (r.state === "delivered" || r.state === "failed") {
      const button = h(
        "button",
        { type: "button", "aria-label": `Redeliver recording ${r.recording_id}` },
        "Redeliver",
      );
      button.addEventListener("click", () =>
        act(button, status, async () => {
          await api("POST", `/v2/recordings/${r.recording_id}/redeliver`);
          setTimeout(() => load(false), 300);
          return `Recording ${r.recording_id} queued for delivery again.`;
        }),
      );
      actions.append(button);
      if (canDownload && r.retained_until && new Date(r.retained_until) > new Date())
        actions.append(
          h(
            "a",
            {
              class: "button",
              href: `/v2/recordings/${r.recording_id}/content`,
              download: `${r.recording_id}.mp4`,
            },
            "Download",
          ),
        );
    }
    return [
      h(
        "div",
        {},
        formatTime(r.created_at),
        h("div", { class: "hint" }, h("code", {}, r.recording_id)),
      ),
      h(
        "div",
        {},
        stateBadge(r.state),
        r.delivery?.state === "queued" && r.delivery.next_attempt_at
          ? h("div", { class: "hint" }, "next try ", formatTime(r.delivery.next_attempt_at))
          : null,
      ),
      { num: formatBytes(r.bytes_received) },
      { num: formatDuration(r.duration) },
      h("code", {}, r.storage_uri),
      { num: String(r.delivery?.attempts ?? 0) },
      errorCell(r.delivery),
      actions,
    ];
  }

  async function load(more) {
    if (!more) fill(results, loading("Loading recordings…"));
    const query = new URLSearchParams({ limit: "25" });
    for (const [k, v] of Object.entries(filters)) {
      if (!v) continue;
      query.set(k, k === "created_after" ? new Date(v).toISOString() : v);
    }
    if (more && cursor) query.set("cursor", cursor);
    try {
      const page = await api("GET", `/v2/recordings?${query}`);
      cursor = page.next_cursor;
      const rows = page.data.map(row);
      const list = more ? [...(results.rows ?? []), ...rows] : rows;
      results.rows = list;
      fill(
        results,
        list.length === 0
          ? empty(
              "No recordings match.",
              Object.values(filters).some(Boolean)
                ? "Clear the filters to see every recording."
                : "Recordings appear here as soon as your platform starts streaming one to a conversation with recording enabled.",
            )
          : [
              table(
                "Recordings",
                [
                  "Created",
                  "State",
                  "Size",
                  "Duration",
                  "Storage URI",
                  "Attempts",
                  "Error",
                  "Actions",
                ],
                list,
              ),
              cursor
                ? h(
                    "div",
                    { class: "actions" },
                    h("button", { type: "button", onclick: () => load(true) }, "Load more"),
                  )
                : null,
            ],
      );
    } catch (error) {
      fill(results, failure(error, "Recordings could not load"));
    }
  }

  fill(
    main,
    h("h1", {}, "Recordings"),
    h(
      "p",
      { class: "lead" },
      "Every recording, where it went and why a delivery failed. Redeliver while the staged copy is kept.",
    ),
    form,
    status,
    results,
  );
  await load(false);
}

async function webhooksPage(main) {
  const secretsArea = h("div");
  const eventsArea = h("div", { "aria-live": "polite" });
  const status = h("div", { "aria-live": "polite" });
  const rotate = h("button", { type: "button" }, "Rotate signing secret");

  async function loadSecrets() {
    const secrets = await api("GET", "/v2/webhook-secret");
    fill(
      secretsArea,
      secrets.data.length === 0
        ? empty(
            "No signing secret shown yet.",
            "Rotate to create the secret your receiver verifies webhooks with.",
          )
        : table(
            "Signing secrets",
            ["Created", "Signs until"],
            secrets.data.map((s) => [
              formatTime(s.created_at),
              s.expires_at ? formatTime(s.expires_at) : "until the next rotation",
            ]),
          ),
    );
  }
  rotate.addEventListener("click", async () => {
    if (
      !(await confirmDialog(
        "Rotate the signing secret?",
        "A new secret signs from now on; the current one keeps signing beside it for the overlap period, so update your receiver soon.",
        "Rotate",
        "primary",
      ))
    )
      return;
    act(rotate, status, async () => {
      const answer = await api("POST", "/v2/webhook-secret/rotate");
      const button = h("button", { type: "button" }, "Copy");
      button.addEventListener("click", () => copy(answer.secret, button));
      fill(
        status,
        h(
          "div",
          { class: "notice warn", role: "status" },
          h(
            "p",
            {},
            h(
              "strong",
              {},
              "New signing secret — shown only this once. Store it in your receiver now.",
            ),
          ),
          h("code", { class: "secret", id: "new-secret" }, answer.secret),
          h("div", { class: "actions" }, button),
          answer.previous_expires_at
            ? h(
                "p",
                {},
                "The previous secret keeps signing until ",
                formatTime(answer.previous_expires_at),
                ".",
              )
            : null,
        ),
      );
      await loadSecrets();
    });
  });

  function attemptsTable(event) {
    if (!event.attempts?.length) return h("p", { class: "muted" }, "Not attempted yet.");
    return table(
      `Attempts of ${event.event_id}`,
      ["#", "Started", "Status", "Latency", "Answer", "Error"],
      event.attempts.map((a) => [
        { num: String(a.attempt) },
        formatTime(a.started_at),
        a.status ?? "—",
        { num: a.latency_ms === null || a.latency_ms === undefined ? "—" : `${a.latency_ms} ms` },
        a.response_excerpt ? h("code", {}, a.response_excerpt) : "—",
        a.error ?? "—",
      ]),
    );
  }

  async function loadEvents() {
    try {
      const page = await api("GET", "/v2/events?limit=50");
      fill(
        eventsArea,
        page.data.length === 0
          ? empty(
              "No events yet.",
              "Events are sent to a conversation's callback_url when a recording is delivered or fails.",
            )
          : table(
              "Events",
              ["Created", "Type", "State", "Attempts", "Details", "Actions"],
              page.data.map((event) => {
                const button = h(
                  "button",
                  { type: "button", "aria-label": `Resend event ${event.event_id}` },
                  "Resend",
                );
                button.addEventListener("click", () =>
                  act(button, status, async () => {
                    await api("POST", `/v2/events/${event.event_id}/resend`);
                    setTimeout(loadEvents, 500);
                    return `Event ${event.event_id} will be sent again now.`;
                  }),
                );
                return [
                  formatTime(event.created_at),
                  event.event_type.replace("application.", ""),
                  stateBadge(event.state),
                  { num: String(event.attempt_count) },
                  h(
                    "details",
                    {},
                    h("summary", {}, "Attempts"),
                    h("p", { class: "hint" }, h("code", {}, event.event_id)),
                    event.last_error ? h("p", { class: "error-text" }, event.last_error) : null,
                    attemptsTable(event),
                  ),
                  button,
                ];
              }),
            ),
      );
    } catch (error) {
      fill(eventsArea, failure(error, "Events could not load"));
    }
  }

  fill(
    main,
    h("h1", {}, "Webhooks"),
    h(
      "p",
      { class: "lead" },
      "Signed events sent to your callback URLs, each attempt, and the secret that signs them.",
    ),
    status,
    h(
      "section",
      { "aria-labelledby": "secret-h" },
      h("h2", { id: "secret-h" }, "Signing secret"),
      secretsArea,
      h("div", { class: "actions" }, rotate),
    ),
    h(
      "section",
      { "aria-labelledby": "events-h" },
      h("h2", { id: "events-h" }, "Event log"),
      h(
        "div",
        { class: "actions" },
        h("button", { type: "button", onclick: loadEvents }, "Refresh"),
      ),
      eventsArea,
    ),
  );
  await Promise.all([loadSecrets(), loadEvents()]);
}

/** A health status as a badge: healthy and pass are good, unknown and skip neutral, the rest bad. */
function healthBadge(status) {
  const tone = ["healthy", "pass"].includes(status)
    ? "ok"
    : ["unknown", "skip"].includes(status)
      ? "info"
      : "bad";
  return badge(status, tone);
}

async function healthPage(main) {
  let answer;
  try {
    answer = await api("GET", "/v2/recording-storage");
  } catch (error) {
    if (error?.status !== 404) throw error;
    fill(
      main,
      h("h1", {}, "Destination health"),
      empty(
        "No destination yet.",
        "Save a destination on Connect storage; the relay checks it regularly after that.",
      ),
    );
    return;
  }
  const health = answer.health;
  const rows = [
    ["Status", healthBadge(health.status)],
    ["Last checked", health.checked_at ? formatTime(health.checked_at) : "not yet"],
  ];
  if (health.error_code) rows.push(["Error", health.error_code]);
  if (health.message) rows.push(["What the cloud said", health.message]);
  if (health.hint) rows.push(["How to fix it", health.hint]);
  if (health.safety) {
    rows.push(["Safety self-check", healthBadge(health.safety.status)]);
    rows.push(["Safety detail", health.safety.hint ?? health.safety.message]);
  }
  fill(
    main,
    h("h1", {}, "Destination health"),
    h(
      "p",
      { class: "lead" },
      "The relay checks your destination on a schedule (the identity exchange, and whether the trust refuses the relay acting for another workspace); this is what it found last.",
    ),
    table("Destination health", ["Fact", "Value"], rows),
  );
}

export const customerPages = [
  { slug: "recordings", title: "Recordings", render: recordingsPage },
  { slug: "storage", title: "Connect storage", render: storagePage },
  { slug: "webhooks", title: "Webhooks", render: webhooksPage },
  { slug: "health", title: "Health", render: healthPage },
];
