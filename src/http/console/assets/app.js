// The console's shell: session, layout, navigation and the sign-in page. Pages live in
// customer.js (a workspace's own pages) and operator.js (the operator's).
import { customerPages } from "./customer.js";
import { ApiError, api, failure, fill, h, hasRoute, loading, setCsrf } from "./lib.js";
import { operatorPages } from "./operator.js";

const root = document.getElementById("app");
let session;

function navigate(path) {
  history.pushState(null, "", path);
  render();
}

/** Same-origin links of the console navigate without reloading. */
document.addEventListener("click", (event) => {
  const link = event.target.closest?.("a[href^='/console/']");
  if (!link || event.ctrlKey || event.metaKey || event.shiftKey || link.target) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});
window.addEventListener("popstate", () => render());

function signInPage() {
  const status = h("div", { "aria-live": "polite" });
  const input = h("input", {
    id: "credential",
    name: "credential",
    type: "password",
    autocomplete: "off",
    required: true,
    "aria-describedby": "credential-help",
  });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h(
    "form",
    {
      class: "card",
      onsubmit: async (event) => {
        event.preventDefault();
        button.disabled = true;
        fill(status);
        try {
          session = await api("POST", "/console/session", { credential: input.value });
          input.value = "";
          setCsrf(session.csrf_token);
          const next = new URLSearchParams(location.search).get("next");
          const home = session.kind === "operator" ? "/console/overview" : "/console/recordings";
          navigate(next?.startsWith("/console/") && next !== "/console/sign-in" ? next : home);
        } catch (error) {
          fill(status, failure(error, "Could not sign in"));
          input.setAttribute("aria-invalid", "true");
          input.focus();
        } finally {
          button.disabled = false;
        }
      },
    },
    h(
      "div",
      { class: "field" },
      h("label", { for: "credential" }, "API key or operator token"),
      input,
      h(
        "p",
        { class: "help", id: "credential-help" },
        "A workspace API key (rrk_…) opens that workspace; the operator token opens the operator pages. ",
        "The key is exchanged for a session of 8 hours and is not kept in this browser.",
      ),
    ),
    status,
    h("div", { class: "actions" }, button),
  );
  return h(
    "main",
    { id: "main", tabindex: "-1", class: "signin" },
    h("h1", {}, "Sign in to recording-relay"),
    h("p", { class: "lead" }, "Connect storage, follow deliveries and webhooks, or run the relay."),
    form,
  );
}

async function signOut() {
  try {
    await api("DELETE", "/console/session");
  } finally {
    session = undefined;
    setCsrf("");
    navigate("/console/sign-in");
  }
}

async function render() {
  const path = location.pathname.replace(/\/$/, "");
  if (path === "/console/sign-in") {
    fill(root, signInPage());
    document.title = "Sign in · recording-relay";
    document.getElementById("credential")?.focus();
    return;
  }
  if (!session) {
    try {
      session = await api("GET", "/console/session");
      setCsrf(session.csrf_token);
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return; // api() sends to sign-in
      fill(root, h("main", { id: "main" }, failure(error, "The console could not start")));
      return;
    }
  }
  const pages = session.kind === "operator" ? operatorPages : customerPages;
  const available = [];
  for (const page of pages) if (!page.when || (await page.when(hasRoute))) available.push(page);
  const slug = path.split("/")[2] ?? "";
  const page = available.find((p) => p.slug === slug) ?? (slug === "" ? available[0] : undefined);
  const main = h("main", { id: "main", tabindex: "-1" });
  const who =
    session.kind === "operator"
      ? "Operator"
      : `Workspace ${session.workspace_name ?? ""} (${session.workspace_id})`;
  fill(
    root,
    h(
      "header",
      { class: "topbar" },
      h(
        "a",
        { class: "brand", href: available[0] ? `/console/${available[0].slug}` : "/console/" },
        h("img", { src: "/console/assets/icon.svg", alt: "" }),
        "recording-relay",
      ),
      h(
        "div",
        { class: "who" },
        h("span", {}, `Signed in as ${who}`),
        h("button", { type: "button", onclick: signOut }, "Sign out"),
      ),
    ),
    h(
      "nav",
      { class: "tabs", "aria-label": "Console pages" },
      available.map((p) =>
        h(
          "a",
          { href: `/console/${p.slug}`, "aria-current": p === page ? "page" : undefined },
          p.title,
        ),
      ),
    ),
    main,
  );
  if (!page) {
    fill(main, h("h1", {}, "Page not found"), h("p", {}, "Choose a page above."));
    return;
  }
  document.title = `${page.title} · recording-relay`;
  fill(main, loading());
  try {
    await page.render(main, { session, navigate, params: new URLSearchParams(location.search) });
  } catch (error) {
    fill(main, h("h1", {}, page.title), failure(error, "This page could not load"));
  }
}

render();
