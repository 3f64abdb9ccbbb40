// /admin: the operator's own account (the second factor turned on or off) and the audit log of every
// operator action and sign-in, filtered, paged back, its hash chain checked on demand.
import { el, card, table, time, showStatus } from "../core.js";
import { api, start } from "./panel.js";

const PAGE = 50;

function groups(secret) {
  return secret.replace(/(.{4})/g, "$1 ").trim();
}

function factorCard(session) {
  const body = el("div", { class: "stack" });
  const box = card("Your account", el("p", {}, "Signed in as ", el("strong", { text: session.email }), ". This session ends ", time(session.expires_at), " at the latest."), body);
  const state = el("p", { id: "factor-state" });
  const error = el("p", { class: "error", role: "alert", hidden: true });
  const fail = (err) => {
    error.textContent = err.message;
    error.hidden = false;
  };
  body.append(state);
  if (session.second_factor) {
    state.textContent = "Second factor: on. To turn it off, give your password and a current code.";
    const form = el(
      "form",
      { class: "stack", id: "factor-off" },
      el("label", { for: "off-password", text: "Password" }),
      el("input", { id: "off-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
      el("label", { for: "off-code", text: "Code from your authenticator app" }),
      el("input", { id: "off-code", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true }),
      el("button", { type: "submit", class: "secondary", text: "Turn the second factor off" }),
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        await api("/api/admin/totp", { method: "DELETE", body: { password: form.password.value, code: form.code.value.trim() } });
        location.assign("/admin/login?signed_out=factor");
      } catch (err) {
        fail(err);
      }
    });
    body.append(form, error);
    return box;
  }
  state.textContent = "Second factor: off. Turn it on: your password alone will no longer sign you in.";
  const begin = el("button", { type: "button", id: "factor-begin", text: "Turn on the second factor" });
  const enrol = el("div", { class: "stack", hidden: true });
  begin.addEventListener("click", async () => {
    error.hidden = true;
    try {
      const fresh = await api("/api/admin/totp/new");
      const form = el(
        "form",
        { class: "stack", id: "factor-on" },
        el("input", { type: "hidden", name: "secret", value: fresh.secret }),
        el("label", { for: "on-password", text: "Password" }),
        el("input", { id: "on-password", name: "password", type: "password", autocomplete: "current-password", required: true }),
        el("label", { for: "on-code", text: "The code the app shows now" }),
        el("input", { id: "on-code", name: "code", type: "text", inputmode: "numeric", autocomplete: "one-time-code", maxlength: 6, required: true }),
        el("button", { type: "submit", text: "Turn it on" }),
      );
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        error.hidden = true;
        try {
          await api("/api/admin/totp", {
            method: "PUT",
            body: { secret: form.secret.value, password: form.password.value, code: form.code.value.trim() },
          });
          location.assign("/admin/login?signed_out=factor");
        } catch (err) {
          fail(err);
        }
      });
      enrol.replaceChildren(
        el("p", { text: "Add this key to your authenticator app (it uses 6 digits every 30 seconds, SHA-1):" }),
        el("p", { class: "secret", id: "factor-secret", text: groups(fresh.secret) }),
        el("p", { class: "muted" }, "Or open this link on the phone: ", el("a", { href: fresh.otpauth_uri, text: "add to authenticator" })),
        form,
      );
      enrol.hidden = false;
      begin.hidden = true;
    } catch (err) {
      fail(err);
    }
  });
  body.append(begin, enrol, error);
  return box;
}

function changes(row) {
  const parts = [];
  if (row.before) parts.push(el("code", { text: row.before }), " → ");
  if (row.after) parts.push(el("code", { text: row.after }));
  return parts.length ? el("span", { class: "changes" }, parts) : "–";
}

function auditCard() {
  const holder = el("div");
  const more = el("button", { type: "button", class: "secondary", hidden: true, text: "Older entries" });
  const verdict = el("p", { id: "chain", role: "status" });
  const verify = el("button", { type: "button", class: "secondary", text: "Check the chain" });
  const form = el(
    "form",
    { class: "filters", id: "audit-filters" },
    el("label", { for: "f-action", text: "Action" }),
    el(
      "select",
      { id: "f-action", name: "action" },
      [["", "All"], ["admin.", "Operator accounts"], ["customer.", "Customers"], ["crypto.", "Encryption keys"]].map(([value, label]) =>
        el("option", { value, text: label }),
      ),
    ),
    el("label", { for: "f-actor", text: "Who" }),
    el("input", { id: "f-actor", name: "actor", type: "search", maxlength: 200, placeholder: "an email, or ADMIN_TOKEN" }),
    el("button", { type: "submit", text: "Show" }),
  );
  let rows = [];
  let before = null;
  const columns = [
    ["When", (r) => time(r.at)],
    ["Who", (r) => `${r.actor} (${r.actor_type})`],
    ["Action", (r) => r.action],
    ["Target", (r) => r.target || "–"],
    ["Result", (r) => el("span", { class: r.result === "success" ? "ok" : "warn", text: r.result })],
    ["From", (r) => r.ip],
    ["Changes", changes],
  ];
  const load = async (reset) => {
    const query = new URLSearchParams({ limit: String(PAGE) });
    if (form.action.value) query.set("action", form.action.value);
    if (form.actor.value.trim()) query.set("actor", form.actor.value.trim());
    if (!reset && before) query.set("before", String(before));
    const answer = await api("/api/admin/audit?" + query);
    rows = reset ? answer.entries : rows.concat(answer.entries);
    before = answer.next_before;
    holder.replaceChildren(table("The audit log, newest first", columns, rows, { empty: "No entries match." }));
    more.hidden = !before;
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    load(true).catch((err) => showStatus(err.message));
  });
  more.addEventListener("click", () => load(false).catch((err) => showStatus(err.message)));
  verify.addEventListener("click", async () => {
    try {
      const answer = await api("/api/admin/audit/verify");
      verdict.textContent = answer.intact
        ? `${answer.rows} entries; the chain is intact.`
        : `The chain breaks at entry ${answer.first_broken_id}: it was changed or removed outside GPUOptimizer.`;
      verdict.className = answer.intact ? "ok" : "error";
    } catch (err) {
      showStatus(err.message);
    }
  });
  const box = card(
    "Audit log",
    el("p", { class: "muted", text: "Every operator action and sign-in. The database refuses to change or delete an entry, and each one is chained to the one before it." }),
    form,
    holder,
    el("div", { class: "row" }, more, verify),
    verdict,
  );
  return { box, load };
}

start("/admin", async (main, session) => {
  const audit = auditCard();
  main.replaceChildren(el("h1", { text: "Security" }), el("div", { class: "grid" }, factorCard(session), audit.box));
  await audit.load(true);
});
