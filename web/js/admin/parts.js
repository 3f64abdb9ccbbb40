// Pieces the operator panel's pages share: headline figures, fact lists, lists paged back with `before`,
// an inline error line, and the confirmation box every destructive action goes through (a heading saying
// what will happen, the reason where the API asks for one, then "Yes" or "Cancel").
import { el, table } from "../core.js";

// One headline figure; `name` marks it for the browser tests (data-kpi).
export function kpi(name, label, value, hint) {
  return el(
    "div",
    { class: "kpi", "data-kpi": name },
    el("div", { class: "kpi-label", text: label }),
    el("div", { class: "kpi-value", text: value }),
    hint ? el("div", { class: "kpi-hint", text: hint }) : null,
  );
}

// A definition list from [term, value (text or node), name?] rows; a name marks the value (data-fact).
export function facts(rows) {
  return el(
    "dl",
    { class: "facts" },
    rows.flatMap(([term, value, name]) => [el("dt", { text: term }), el("dd", { "data-fact": name }, value)]),
  );
}

// A line that shows an API error where it happened (role=alert: read out at once).
export function errorLine() {
  const node = el("p", { class: "error", role: "alert", hidden: true });
  return {
    node,
    show(err) {
      node.textContent = err && err.message ? err.message : String(err);
      node.hidden = false;
    },
    clear() {
      node.textContent = "";
      node.hidden = true;
    },
  };
}

// A customer's address as a link to their page in the panel ("deleted" once the account is gone).
export function customerLink(id, email) {
  if (!id) return el("span", { class: "muted", text: "none" });
  return el("a", { href: `/admin/customers?id=${id}`, text: email || `customer ${id}` });
}

export function bytes(n) {
  if (n === null || n === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const s = Math.max(0, Math.round(seconds));
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return h ? `${d} d ${h} h` : `${d} d`;
  if (h) return m ? `${h} h ${m} min` : `${h} h`;
  if (m) return `${m} min`;
  return `${s} s`;
}

// Free text in a table cell (a reason, an error, a note): wrapped within a readable width.
export function long(text) {
  return el("span", { class: "long", text: text || "–" });
}

// A state word with its colour (the word carries the meaning; the colour only helps).
export function stateWord(text, good) {
  return el("span", { class: good === true ? "ok" : good === false ? "warn" : null, text });
}

// A payment's status in words, with "(refunded)" when a refund of it is recorded.
export function paymentStatus(p) {
  const good = p.status === "completed" ? true : ["failed", "expired", "paid_unapplied"].includes(p.status) ? false : null;
  return el("span", { class: "nowrap" }, stateWord(p.status.replace("_", " "), good), p.refunded && p.status !== "refunded" ? " (refunded)" : "");
}

// A list read page by page, newest first: `fetchPage(before)` answers {rows, next_before}. load(true) starts
// again from the newest (after a filter changed or an action), load(false) adds the next older page.
export function pagedList({ caption, columns, empty, fetchPage, more = "Older entries" }) {
  const holder = el("div");
  const button = el("button", { type: "button", class: "secondary", hidden: true, text: more });
  let rows = [];
  let before = null;
  const load = async (reset) => {
    const answer = await fetchPage(reset ? null : before);
    rows = reset ? answer.rows : rows.concat(answer.rows);
    before = answer.next_before;
    holder.replaceChildren(table(caption, columns, rows, { empty }));
    button.hidden = !before;
  };
  const node = el("div", { class: "paged" }, holder, el("div", { class: "row" }, button));
  return { node, load, button };
}

// A form of filters: each label kept on one line with its field, the pairs wrapping as the width allows.
export function filterForm(attrs, ...children) {
  const nodes = children.flat().filter(Boolean);
  const out = [];
  for (let i = 0; i < nodes.length; i++) {
    const next = nodes[i + 1];
    if (nodes[i].tagName === "LABEL" && next && (next.tagName === "INPUT" || next.tagName === "SELECT")) {
      out.push(el("span", { class: "filter" }, nodes[i], next));
      i++;
    } else {
      out.push(nodes[i]);
    }
  }
  return el("form", { class: "filters", ...attrs }, out);
}

// The query string of a filter form: its named, non-empty fields, plus `extra`.
export function queryOf(form, extra = {}) {
  const query = new URLSearchParams();
  for (const field of form.elements) {
    if (!field.name || field.type === "submit") continue;
    const value = String(field.value).trim();
    if (value) query.set(field.name, value);
  }
  for (const [k, v] of Object.entries(extra)) if (v !== null && v !== undefined && v !== "") query.set(k, String(v));
  return query;
}

// The box a destructive action goes through, inside a card (after its table). open() fills and shows it,
// moving focus into it; `run(reason)` does the action (its error stays in the box); Cancel closes it.
export function confirmBox(id) {
  const title = el("h3", { id: `${id}-title` });
  const text = el("p", { id: `${id}-text` });
  const reason = el("input", { id: `${id}-reason`, name: "reason", type: "text", maxlength: 500, autocomplete: "off" });
  const reasonRow = el("div", { class: "stack" }, el("label", { for: `${id}-reason`, text: "Reason (kept in the audit log)" }), reason);
  const yes = el("button", { type: "submit", id: `${id}-yes` });
  const no = el("button", { type: "button", class: "secondary", id: `${id}-no`, text: "Cancel" });
  const error = errorLine();
  const form = el(
    "form",
    { class: "confirm-box stack", id, hidden: true, novalidate: true, "aria-labelledby": title.id, "aria-describedby": text.id },
    title,
    text,
    reasonRow,
    el("div", { class: "row" }, yes, no),
    error.node,
  );
  let current = null;
  const close = () => {
    const back = current && current.returnTo;
    form.hidden = true;
    current = null;
    if (back && back.isConnected) back.focus();
  };
  no.addEventListener("click", close);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    error.clear();
    const why = reason.value.trim();
    if (current.needsReason && (why.length < 3 || why.length > 500)) {
      error.show("Give a reason, 3 to 500 characters: it goes into the audit log.");
      reason.focus();
      return;
    }
    yes.disabled = true;
    try {
      const action = current;
      await action.run(why);
      close();
    } catch (err) {
      error.show(err);
    } finally {
      yes.disabled = false;
    }
  });
  // heading: what is about to happen; detail: its consequences; confirm: the button's words.
  const open = ({ heading, detail, confirm, danger = true, needsReason = false, run, returnTo }) => {
    current = { run, needsReason, returnTo: returnTo || document.activeElement };
    title.textContent = heading;
    text.textContent = detail || "";
    reason.value = "";
    reasonRow.hidden = !needsReason;
    reason.required = needsReason;
    yes.textContent = confirm;
    yes.className = danger ? "danger" : "";
    error.clear();
    form.hidden = false;
    form.scrollIntoView({ block: "nearest" });
    (needsReason ? reason : yes).focus();
  };
  return { node: form, open, close };
}
