// What every page of the web app shares: the session, API calls with the CSRF token, the page frame (header,
// navigation, sign-out), number, money and time formatting, and a light poll that pauses while the tab is
// hidden. No inline script or style anywhere (the server's CSP forbids both): DOM built with createElement,
// styled with classes.

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

let session = null;

export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.details ? Object.entries(body.details).map(([k, v]) => `${k} ${v}`).join("; ") : "";
    super((body && body.message ? body.message : `HTTP ${status}`) + (detail ? `: ${detail}` : ""));
    this.status = status;
    this.body = body;
  }
}

// A caller of the JSON API for one signed-in area: the session cookie goes with every call and writes carry
// the CSRF token of `sessionOf()`; a 401 while signed in sends the viewer to `signIn`.
export function apiFor(signIn, sessionOf) {
  return async function call(path, { method = "GET", body } = {}) {
    const current = sessionOf();
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && current) headers["X-CSRF-Token"] = current.csrf_token;
    const res = await fetch(path, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let json = null;
    try {
      json = await res.json();
    } catch {
      json = null;
    }
    if (res.status === 401 && current) {
      location.assign(`${signIn}?next=` + encodeURIComponent(location.pathname + location.search));
    }
    if (!res.ok) throw new ApiError(res.status, json);
    return json;
  };
}

// Calls the customer's API with the web session.
export const api = apiFor("/login", () => session);

export function currentSession() {
  return session;
}

// --- formatting -------------------------------------------------------------------------------------------

let currency = "USD";
export function setCurrency(code) {
  if (code) currency = code;
}
export function money(value, digits) {
  if (value === null || value === undefined) return "–";
  const abs = Math.abs(value);
  const d = digits ?? (abs >= 1000 ? 0 : 2);
  return new Intl.NumberFormat(undefined, {
    style: "currency",
    currency,
    minimumFractionDigits: d,
    maximumFractionDigits: d,
  }).format(value);
}
export function num(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return new Intl.NumberFormat(undefined, { maximumFractionDigits: digits }).format(value);
}
export function pct(value, digits = 0) {
  if (value === null || value === undefined) return "–";
  return `${num(value, digits)} %`;
}
export function mib(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1024 ? `${num(value / 1024, 1)} GiB` : `${num(value, 0)} MiB`;
}
const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
// A time in the viewer's zone, with the UTC time on hover.
export function time(iso) {
  if (!iso) return el("span", { text: "never" });
  const d = new Date(iso);
  return el("time", { datetime: iso, title: d.toISOString().replace(".000Z", "Z") + " (UTC)", text: timeFormat.format(d) });
}
export function ago(iso) {
  if (!iso) return "never";
  const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
  if (s < 90) return `${Math.round(s)} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  if (s < 129600) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} days ago`;
}

// --- the frame --------------------------------------------------------------------------------------------

const NAV = [
  ["/dashboard", "Overview"],
  ["/fleet", "Fleet"],
  ["/recommendations", "Recommendations"],
  ["/alerts", "Alerts"],
  ["/billing", "Billing"],
  ["/settings", "Settings"],
];

// Puts the header of a signed-in area above the page: brand, navigation (`nav`: [href, label]), who is
// signed in, and a sign-out button that runs `signOut`.
export function mountFrame({ nav, active, home, brand, label, email, signOut }) {
  const links = el(
    "nav",
    { class: "app-nav", "aria-label": label },
    nav.map(([href, text]) => el("a", { href, "aria-current": href === active ? "page" : false, text })),
  );
  const button = el("button", { type: "button", class: "link-button", text: "Sign out" });
  button.addEventListener("click", signOut);
  const who = el("div", { class: "who" }, el("span", { class: "muted", text: email }), button);
  const header = el(
    "header",
    { class: "top app-top" },
    el("a", { class: "brand", href: home }, el("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }), brand),
    links,
    who,
  );
  const skip = document.querySelector(".skip");
  if (skip) skip.after(header);
  else document.body.prepend(header);
}

function frame(active) {
  mountFrame({
    nav: NAV,
    active,
    home: "/dashboard",
    brand: " GPUOptimizer",
    label: "Main",
    email: session.email,
    signOut: async () => {
      try {
        await api("/api/logout", { method: "POST" });
      } finally {
        location.assign("/login");
      }
    },
  });
}

// Shows a problem in the page's status line (role=status, read by screen readers).
export function showStatus(message, kind = "error") {
  const line = document.getElementById("status");
  if (!line) return;
  line.textContent = message;
  line.className = message ? `status ${kind}` : "status";
}

// Runs `refresh` now and every `seconds` while the tab is visible; a hidden tab stops asking.
export function poll(refresh, seconds = 30) {
  let timer = null;
  const tick = async () => {
    timer = null;
    try {
      await refresh();
      showStatus("");
    } catch (err) {
      showStatus(`Could not refresh: ${err.message}`);
    }
    if (!document.hidden) timer = setTimeout(tick, seconds * 1000);
  };
  document.addEventListener("visibilitychange", () => {
    if (document.hidden) {
      if (timer) clearTimeout(timer);
      timer = null;
    } else if (!timer) {
      tick();
    }
  });
  return tick();
}

// Starts a signed-in page: the session (or off to /login), the frame, then the page itself.
export async function start(active, render) {
  const res = await fetch("/api/session", { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const answer = res.ok ? await res.json() : null;
  if (!answer || !answer.signed_in) {
    location.replace("/login?next=" + encodeURIComponent(location.pathname + location.search));
    return;
  }
  session = answer;
  frame(active);
  try {
    await render(document.getElementById("main"), session);
  } catch (err) {
    showStatus(err.message);
  }
  // Navigation start to the page's first full render (its data fetched and drawn): the browser tests read it.
  document.body.dataset.readyMs = String(Math.round(performance.now()));
}

// Time spent drawing (not waiting for the server), summed over a page's first render: the browser tests read it.
let drawing = 0;
export function timed(draw) {
  const t0 = performance.now();
  const out = draw();
  drawing += performance.now() - t0;
  if (!document.body.dataset.readyMs) document.body.dataset.drawMs = String(Math.round(drawing));
  return out;
}

// A card with a title, for the grid of a page.
export function card(title, ...children) {
  const id = "h-" + title.toLowerCase().replace(/[^a-z0-9]+/g, "-");
  return el("section", { class: "card", "aria-labelledby": id }, el("h2", { id, text: title }), ...children);
}

// A table from rows: columns are [label, (row) => cell content, {numeric}].
export function table(caption, columns, rows, { empty = "Nothing yet." } = {}) {
  if (!rows.length) return el("p", { class: "muted", text: empty });
  const head = el("tr", {}, columns.map(([label, , opts]) => el("th", { scope: "col", class: opts?.numeric ? "num" : null, text: label })));
  const body = rows.map((row) =>
    el("tr", {}, columns.map(([label, cell, opts]) => el("td", { class: opts?.numeric ? "num" : null, "data-label": label }, cell(row)))),
  );
  return el(
    "div",
    { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    el("table", {}, el("caption", { class: "visually-hidden", text: caption }), el("thead", {}, head), el("tbody", {}, body)),
  );
}
