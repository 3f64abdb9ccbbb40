// What every page of the operator panel shares: the admin session (or off to /admin/login), API calls with
// its CSRF token, the frame (header, navigation, sign-out). The panel's session is not the customers': a
// customer signed in on this browser sees nothing here, and the reverse.
import { el, ApiError, showStatus } from "../core.js";

let session = null;

const NAV = [["/admin", "Security"]];

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && session) headers["X-CSRF-Token"] = session.csrf_token;
  const res = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (res.status === 401 && session) location.assign("/admin/login?next=" + encodeURIComponent(location.pathname));
  if (!res.ok) throw new ApiError(res.status, json);
  return json;
}

function frame(active) {
  const nav = el(
    "nav",
    { class: "app-nav", "aria-label": "Panel" },
    NAV.map(([href, label]) => el("a", { href, "aria-current": href === active ? "page" : false, text: label })),
  );
  const signOut = el("button", { type: "button", class: "link-button", text: "Sign out" });
  signOut.addEventListener("click", async () => {
    try {
      await api("/api/admin/logout", { method: "POST" });
    } finally {
      location.assign("/admin/login");
    }
  });
  const who = el("div", { class: "who" }, el("span", { class: "muted", text: session.email }), signOut);
  const header = el(
    "header",
    { class: "top app-top" },
    el("a", { class: "brand", href: "/admin" }, el("img", { src: "/favicon.svg", alt: "", width: 28, height: 28 }), " Operator"),
    nav,
    who,
  );
  const skip = document.querySelector(".skip");
  if (skip) skip.after(header);
  else document.body.prepend(header);
}

export function currentSession() {
  return session;
}

// Starts a panel page: the admin session (or off to sign in), the frame, then the page itself.
export async function start(active, render) {
  const res = await fetch("/api/admin/session", { headers: { Accept: "application/json" }, credentials: "same-origin" });
  const answer = res.ok ? await res.json() : null;
  if (!answer || !answer.signed_in) {
    location.replace("/admin/login?next=" + encodeURIComponent(location.pathname));
    return;
  }
  session = answer;
  frame(active);
  try {
    await render(document.getElementById("main"), session);
  } catch (err) {
    showStatus(err.message);
  }
  document.body.dataset.readyMs = String(Math.round(performance.now()));
}
