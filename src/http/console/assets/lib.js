// Shared pieces of the console: the API client (session cookie + CSRF header) and DOM helpers.
// Everything is built with DOM calls (never innerHTML), so API data is always text.

let csrfToken = "";
/** Remembers the session's CSRF token (kept in memory only, never in storage). */
export function setCsrf(token) {
  csrfToken = token;
}

/** An API failure, with the relay's error code, message and field. */
export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = error?.code ?? "HTTP_ERROR";
    this.field = error?.field;
  }
}

/** Calls the relay with the session cookie; JSON in and out. */
export async function api(method, path, body) {
  const headers = { accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = csrfToken;
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let data;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = undefined;
  }
  if (response.status === 401 && !path.startsWith("/console/session")) {
    location.assign(`/console/sign-in?next=${encodeURIComponent(location.pathname)}`);
  }
  if (!response.ok) throw new ApiError(response.status, data?.error);
  return data;
}

let openapiPaths;
/** Whether the relay serves a route (features that may not exist yet are detected here). */
export async function hasRoute(method, path) {
  openapiPaths ??= fetch("/openapi.json")
    .then((r) => (r.ok ? r.json() : { paths: {} }))
    .then((doc) => doc.paths ?? {})
    .catch(() => ({}));
  const paths = await openapiPaths;
  const entry = paths[path];
  return Boolean(entry?.[method.toLowerCase()]);
}

/** The OpenAPI paths matching a test (for routes whose exact shape is not known here). */
export async function routesMatching(test) {
  await hasRoute("get", "/");
  const paths = await openapiPaths;
  return Object.keys(paths).filter(test);
}

/** Creates an element: h("p", {class: "x"}, "text", child…). `on*` attributes bind listeners. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function")
      el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else if (value === true) el.setAttribute(name, "");
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces an element's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export const loading = (what = "Loading…") => h("p", { class: "muted", role: "status" }, what);

/** A failure shown where the content would be. */
export function failure(error, what = "Something went wrong") {
  return h(
    "div",
    { class: "notice bad", role: "alert" },
    h("p", {}, h("strong", {}, `${what}: `), error.message),
    error.code ? h("p", { class: "hint" }, `Error code ${error.code}`) : null,
  );
}

/** An empty state: what is missing and what to do about it. */
export const empty = (title, todo) => h("div", { class: "empty" }, h("strong", {}, title), todo);

export function badge(text, tone) {
  return h("span", { class: `badge ${tone}` }, text);
}

const stateTones = {
  delivered: "ok",
  succeeded: "ok",
  pass: "ok",
  signing: "ok",
  ready: "ok",
  failed: "bad",
  fail: "bad",
  withdrawn: "bad",
  warn: "warn",
  retired: "warn",
  pending: "warn",
  queued: "warn",
  receiving: "info",
  complete: "info",
  running: "info",
  published: "info",
  skip: "info",
  purged: "info",
};
export const stateBadge = (state) => badge(state, stateTones[state] ?? "info");

export function formatBytes(n) {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m ? `${m} min ${s % 60} s` : `${s} s`;
}

export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return h("time", { datetime: iso, title: iso }, date.toLocaleString());
}

/** Splits a delivery error message into what happened and the `Hint: …` part. */
export function splitHint(message) {
  if (!message) return { text: "", hint: "" };
  const at = message.indexOf("Hint:");
  if (at < 0) return { text: message, hint: "" };
  return { text: message.slice(0, at).trim(), hint: message.slice(at + 5).trim() };
}

/** A table whose cells carry their column names (stacked into cards on narrow screens). */
export function table(caption, columns, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "stack" },
      h("caption", { class: "skip" }, caption),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          columns.map((c) => h("th", { scope: "col" }, c)),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h(
            "tr",
            {},
            cells.map((cell, i) =>
              h(
                "td",
                { "data-label": columns[i], class: cell?.num ? "num" : undefined },
                cell?.num ?? cell,
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/** Copies text to the clipboard (falls back to selecting it where the Clipboard API is absent). */
export async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    const area = h("textarea", { "aria-hidden": "true", class: "skip" }, text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
    button.textContent = "Copied";
  }
  setTimeout(() => {
    button.textContent = "Copy";
  }, 2000);
}

/** Asks for a confirmation in a modal dialog; resolves true when confirmed. */
export function confirmDialog(title, body, confirmLabel, tone = "danger") {
  return new Promise((resolve) => {
    const id = `d${Math.random().toString(36).slice(2)}`;
    const dialog = h(
      "dialog",
      { "aria-labelledby": `${id}-t` },
      h("h2", { id: `${id}-t` }, title),
      h("p", {}, body),
      h(
        "form",
        { method: "dialog", class: "actions" },
        h("button", { value: "cancel", type: "submit" }, "Cancel"),
        h("button", { value: "confirm", type: "submit", class: tone }, confirmLabel),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "confirm");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Runs an action from a button: disables it meanwhile and reports the outcome in `status`. */
export async function act(button, status, run) {
  button.disabled = true;
  try {
    const message = await run();
    if (status && message) fill(status, h("div", { class: "notice ok", role: "status" }, message));
  } catch (error) {
    if (status) fill(status, failure(error, "Not done"));
  } finally {
    button.disabled = false;
  }
}
