// /admin/security: the operator's own account (the second factor turned on or off), the audit log of every
// operator action and sign-in (filtered, paged back, its hash chain checked on demand), the security log
// (failed sign-ins, blocked addresses, forged webhook signatures) and the addresses blocked now, for
// failures or by hand, with a form to block one and a button to lift each block.
import { el, card, table, time, showStatus } from "../core.js";
import { api, start } from "./panel.js";
import { confirmBox, duration, errorLine, filterForm, long, pagedList, queryOf } from "./parts.js";

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
  const form = filterForm(
    { id: "audit-filters" },
    el("label", { for: "f-action", text: "Action" }),
    el(
      "select",
      { id: "f-action", name: "action" },
      [
        ["", "All"],
        ["admin.", "Operator accounts"],
        ["customer.", "Customers"],
        ["payment.", "Payments"],
        ["mail.", "Mail"],
        ["address.", "Blocked addresses"],
        ["crypto.", "Encryption keys"],
      ].map(([value, label]) =>
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

const KINDS = [
  ["", "All kinds"],
  ["admin_sign_in_failed", "Failed operator sign-ins"],
  ["address_blocked", "Addresses blocked"],
  ["webhook_signature", "Forged webhook signatures"],
];

function eventsCard() {
  const preset = el("select", { id: "se-preset" }, KINDS.map(([value, label]) => el("option", { value, text: label })));
  const form = filterForm(
    { id: "se-filters" },
    el("label", { for: "se-preset", text: "Show" }),
    preset,
    el("label", { for: "se-kind", text: "Kind starts with" }),
    el("input", { id: "se-kind", name: "kind", type: "search", maxlength: 100, autocomplete: "off", placeholder: "e.g. admin_" }),
    el("label", { for: "se-ip", text: "Address" }),
    el("input", { id: "se-ip", name: "ip", type: "search", maxlength: 64, autocomplete: "off", placeholder: "e.g. 203.0.113.7" }),
    el("button", { type: "submit", text: "Show" }),
  );
  // A preset fills the prefix, which stays editable.
  preset.addEventListener("change", () => {
    form.kind.value = preset.value;
    form.requestSubmit();
  });
  const list = pagedList({
    caption: "The security log, newest first",
    empty: "No security events match.",
    more: "Older events",
    columns: [
      ["When", (e) => time(e.at)],
      ["Kind", (e) => el("code", { text: e.kind })],
      ["Address", (e) => e.ip || "–"],
      ["Detail", (e) => long(e.detail)],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/security-events?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.events, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    list.load(true).catch((err) => showStatus(err.message));
  });
  list.button.addEventListener("click", () => list.load(false).catch((err) => showStatus(err.message)));
  const box = card(
    "Security log",
    el("p", { class: "muted", text: "Failed operator sign-ins, addresses blocked for repeated failures, webhooks with a wrong signature, payments that do not match." }),
    form,
    list.node,
  );
  return { box, load: () => list.load(true) };
}

function blocksCard() {
  const holder = el("div");
  const limits = el("p", { class: "muted" });
  const error = errorLine();
  const confirm = confirmBox("block-confirm");
  const field = (id, label, input) => el("div", { class: "field" }, el("label", { for: id, text: label }), input);
  const form = el(
    "form",
    { class: "form-grid", id: "block-form", novalidate: true },
    field("block-ip", "Address (IPv4 or IPv6)",
      el("input", { id: "block-ip", name: "ip", type: "text", maxlength: 64, autocomplete: "off", required: true, spellcheck: "false" })),
    field("block-minutes", "Minutes (0: until lifted)",
      el("input", { id: "block-minutes", name: "minutes", type: "number", min: 0, max: 525600, step: 1, value: 60, required: true })),
    field("block-reason", "Reason (kept in the audit log)",
      el("input", { id: "block-reason", name: "reason", type: "text", maxlength: 500, autocomplete: "off", required: true })),
    el("div", { class: "field" }, el("button", { type: "submit", text: "Block the address" })),
  );
  const load = async () => {
    const answer = await api("/api/admin/blocks");
    const f = answer.failure_limit;
    limits.textContent = f && f.max_failures
      ? `An address that fails to authenticate ${f.max_failures} times within ${duration(f.window_seconds)} is blocked for ${duration(f.block_seconds)}. A block by hand holds until it ends or is lifted here.`
      : "Blocks for repeated failures are off (AUTH_FAILURE_LIMIT=0). A block by hand holds until it ends or is lifted here.";
    holder.replaceChildren(
      table(
        "Addresses blocked now",
        [
          ["Address", (b) => el("code", { text: b.ip })],
          ["Why", (b) => (b.source === "operator" ? "by hand" : "repeated failures")],
          ["Until", (b) => (b.until ? time(b.until) : "until lifted")],
          ["Left", (b) => (b.seconds_left === null || b.seconds_left === undefined ? "–" : duration(b.seconds_left)), { numeric: true }],
          ["Reason", (b) => long(b.reason)],
          ["By", (b) => b.created_by || "–"],
          ["Since", (b) => (b.created_at ? time(b.created_at) : "–")],
          ["Lift", (b) => unblockButton(b)],
        ],
        answer.blocks,
        { empty: "No address is blocked." },
      ),
    );
  };
  function unblockButton(b) {
    const button = el("button", { type: "button", class: "small-button secondary", "data-ip": b.ip, text: "Unblock", "aria-label": `Unblock ${b.ip}` });
    button.addEventListener("click", async () => {
      button.disabled = true;
      error.clear();
      try {
        await api("/api/admin/blocks?ip=" + encodeURIComponent(b.ip), { method: "DELETE" });
        showStatus(`${b.ip} is no longer blocked.`, "ok");
        await load();
      } catch (err) {
        button.disabled = false;
        error.show(err);
      }
    });
    return button;
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    error.clear();
    const ip = form.ip.value.trim();
    const minutes = Number(form.minutes.value);
    const reason = form.reason.value.trim();
    if (!ip) return error.show("Give the address to block.");
    if (!Number.isInteger(minutes) || minutes < 0 || minutes > 525600) return error.show("Minutes: a whole number from 0 (until lifted) to 525600.");
    if (reason.length < 3) return error.show("Give a reason, 3 to 500 characters: it goes into the audit log.");
    confirm.open({
      heading: `Block ${ip}?`,
      detail: `Every request from ${ip} is refused ${minutes ? `for ${duration(minutes * 60)}` : "until the block is lifted"}, this panel's included: never block your own address.`,
      confirm: "Yes, block it",
      run: async () => {
        await api("/api/admin/blocks", { method: "POST", body: { ip, minutes, reason } });
        form.reset();
        showStatus(`${ip} is blocked.`, "ok");
        await load();
      },
    });
  });
  const box = card(
    "Blocked addresses",
    limits,
    holder,
    error.node,
    el("h3", { text: "Block an address by hand" }),
    form,
    confirm.node,
  );
  return { box, load };
}

start("/admin/security", async (main, session) => {
  const audit = auditCard();
  const events = eventsCard();
  const blocks = blocksCard();
  main.replaceChildren(
    el("h1", { text: "Security" }),
    el("div", { class: "panel-grid" }, factorCard(session), audit.box, events.box, blocks.box),
  );
  await Promise.all([audit.load(true), events.load(), blocks.load()]);
});
