// /admin/customers: every customer, searched by address and filtered by plan, paged back; the CSV exports.
// /admin/customers?id=N: one customer (plan, paid period, disabled or not, GPUs and their last report,
// payments, ledger, mail, alerts) and what an operator may do to the account: change its plan, extend its
// paid period, send the welcome mail again, disable or enable it, delete it. Each change carries a reason
// for the audit log; the ones that take something away are confirmed in the page first.
import { el, card, table, time, ago, num, showStatus } from "../core.js";
import { api, start } from "./panel.js";
import { confirmBox, customerLink, errorLine, facts, filterForm, long, pagedList, paymentStatus, queryOf, stateWord } from "./parts.js";

const PLANS = [
  ["free", "Free"],
  ["professional", "Professional"],
  ["enterprise", "Enterprise"],
];

function planName(plan) {
  const found = PLANS.find(([value]) => value === plan);
  return found ? found[1] : plan;
}

function subscriptionText(sub) {
  if (!sub) return "never paid";
  return sub.period_end ? [`${sub.status} to `, time(sub.period_end)] : sub.status;
}

function lastReport(iso) {
  return iso ? el("span", { title: iso, text: ago(iso) }) : "never";
}

function amount(value, currency) {
  return value === null || value === undefined ? "–" : `${value} ${currency || ""}`.trim();
}

// --- the list ------------------------------------------------------------------------------------------

async function list(main) {
  const form = filterForm(
    { id: "c-filters" },
    el("label", { for: "c-q", text: "Email contains" }),
    el("input", { id: "c-q", name: "q", type: "search", maxlength: 254, autocomplete: "off", placeholder: "e.g. example.com" }),
    el("label", { for: "c-plan", text: "Plan" }),
    el("select", { id: "c-plan", name: "plan" }, el("option", { value: "", text: "All" }), PLANS.map(([value, text]) => el("option", { value, text }))),
    el("button", { type: "submit", text: "Show" }),
  );
  const customers = pagedList({
    caption: "Customers, newest first",
    empty: "No customer matches.",
    more: "Older customers",
    columns: [
      ["Email", (c) => customerLink(c.id, c.email)],
      ["Plan", (c) => planName(c.plan)],
      ["Paid period", (c) => subscriptionText(c.subscription)],
      ["GPUs", (c) => num(c.gpus, 0), { numeric: true }],
      ["Last report", (c) => lastReport(c.last_report_at)],
      ["Signed up", (c) => time(c.created_at)],
      ["State", (c) => (c.disabled ? stateWord("disabled", false) : "enabled")],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/customers?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.customers, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    customers.load(true).catch((err) => showStatus(err.message));
  });
  customers.button.addEventListener("click", () => customers.load(false).catch((err) => showStatus(err.message)));
  const exports = el(
    "ul",
    { class: "link-list" },
    [
      ["customers", "Customers"],
      ["payments", "Payments"],
      ["ledger", "Revenue ledger"],
    ].map(([name, text]) => el("li", {}, el("a", { href: `/api/admin/export/${name}.csv`, download: `${name}.csv`, text: `${text} (CSV)` }))),
  );
  main.replaceChildren(
    el("h1", { text: "Customers" }),
    card("Find a customer", form, customers.node),
    card("Exports", el("p", { class: "muted", text: "Every row, for a spreadsheet or the books." }), exports),
  );
  await customers.load(true);
}

// --- one customer ---------------------------------------------------------------------------------------

function tomorrowUtc() {
  return new Date(Date.now() + 86400000).toISOString().slice(0, 10);
}

// The forms that change the account, each with its own error line; `done(message)` shows the customer again.
function actions(c, detailAnswer, confirm, done) {
  const out = [];

  // The plan.
  const planError = errorLine();
  const planForm = el(
    "form",
    { class: "stack", id: "plan-form", novalidate: true },
    el("h3", { text: "Change the plan" }),
    el("label", { for: "plan-select", text: "Plan" }),
    el("select", { id: "plan-select", name: "plan" }, PLANS.map(([value, text]) => el("option", { value, text, selected: value === c.plan }))),
    el("label", { for: "plan-end", text: "Paid period ends (UTC; empty: a month from now)" }),
    el("input", { id: "plan-end", name: "period_end", type: "date", min: tomorrowUtc() }),
    el("label", { for: "plan-reason", text: "Reason (kept in the audit log)" }),
    el("input", { id: "plan-reason", name: "reason", type: "text", maxlength: 500, autocomplete: "off", required: true }),
    el("button", { type: "submit", text: "Change the plan" }),
    planError.node,
  );
  planForm.addEventListener("submit", (event) => {
    event.preventDefault();
    planError.clear();
    const plan = planForm.plan.value;
    const reason = planForm.reason.value.trim();
    const end = planForm.period_end.value;
    if (reason.length < 3) return planError.show("Give a reason, 3 to 500 characters: it goes into the audit log.");
    const body = { plan, reason };
    if (end && plan !== "free") body.period_end = `${end}T00:00:00Z`;
    confirm.open({
      heading: plan === c.plan ? `Set ${c.email}'s ${planName(plan)} period again?` : `Change ${c.email} from ${planName(c.plan)} to ${planName(plan)}?`,
      detail: plan === "free"
        ? "The paid period ends now, without a refund, and the plan's limits apply at once."
        : `No payment is taken: the plan runs to ${end ? `${end} (UTC)` : "a month from now"}. The ledger gets a row with this reason.`,
      confirm: "Yes, change the plan",
      danger: plan === "free",
      returnTo: planForm.querySelector("button"),
      run: async () => {
        await api(`/api/admin/customers/${c.id}/plan`, { method: "POST", body });
        await done(`${c.email} is on ${planName(plan)} now.`);
      },
    });
  });
  out.push(planForm);

  // The paid period, longer.
  if (c.plan !== "free") {
    const extendError = errorLine();
    const extendForm = el(
      "form",
      { class: "stack", id: "extend-form", novalidate: true },
      el("h3", { text: "Extend the paid period" }),
      el("p", { class: "muted" }, "It ends ", detailAnswer.subscription ? time(detailAnswer.subscription.period_end) : "–", "."),
      el("label", { for: "extend-days", text: "Days to add (1 to 366)" }),
      el("input", { id: "extend-days", name: "days", type: "number", min: 1, max: 366, step: 1, value: 7, required: true }),
      el("label", { for: "extend-reason", text: "Reason (kept in the audit log)" }),
      el("input", { id: "extend-reason", name: "reason", type: "text", maxlength: 500, autocomplete: "off", required: true }),
      el("button", { type: "submit", text: "Extend" }),
      extendError.node,
    );
    extendForm.addEventListener("submit", async (event) => {
      event.preventDefault();
      extendError.clear();
      const days = Number(extendForm.days.value);
      const reason = extendForm.reason.value.trim();
      if (!Number.isInteger(days) || days < 1 || days > 366) return extendError.show("Days: a whole number from 1 to 366.");
      if (reason.length < 3) return extendError.show("Give a reason, 3 to 500 characters: it goes into the audit log.");
      const button = extendForm.querySelector("button");
      button.disabled = true;
      try {
        await api(`/api/admin/customers/${c.id}/extend`, { method: "POST", body: { days, reason } });
        await done(`${c.email}'s paid period is ${days} day${days === 1 ? "" : "s"} longer.`);
      } catch (err) {
        button.disabled = false;
        extendError.show(err);
      }
    });
    out.push(extendForm);
  }

  // The welcome mail, again.
  const welcomeError = errorLine();
  const welcome = el("button", { type: "button", class: "secondary", id: "welcome-button", text: "Send the welcome mail again" });
  welcome.addEventListener("click", async () => {
    welcomeError.clear();
    welcome.disabled = true;
    try {
      await api(`/api/admin/customers/${c.id}/welcome`, { method: "POST", body: {} });
      showStatus(`The welcome mail to ${c.email} is queued.`, "ok");
    } catch (err) {
      welcomeError.show(err);
    } finally {
      welcome.disabled = false;
    }
  });
  out.push(el("div", { class: "stack" }, el("h3", { text: "Welcome mail" }),
    el("p", { class: "muted", text: "The first mail, with how to install the agent; it carries no key." }), welcome, welcomeError.node));

  // Disabled or enabled.
  const stateError = errorLine();
  const disabling = !c.disabled;
  const stateForm = el(
    "form",
    { class: "stack", id: "state-form", novalidate: true },
    el("h3", { text: disabling ? "Disable the customer" : "Enable the customer" }),
    el("p", { class: "muted", text: disabling
      ? "Its API keys, sessions and sign-in links stop working; its data stays."
      : `Disabled since ${c.disabled_at ? new Date(c.disabled_at).toISOString().slice(0, 16).replace("T", " ") + " UTC" : "–"}: ${c.disabled_reason || "no reason given"}.` }),
    el("label", { for: "state-reason", text: "Reason (kept in the audit log)" }),
    el("input", { id: "state-reason", name: "reason", type: "text", maxlength: 500, autocomplete: "off", required: true }),
    el("button", { type: "submit", class: disabling ? "danger" : null, text: disabling ? "Disable" : "Enable" }),
    stateError.node,
  );
  stateForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    stateError.clear();
    const reason = stateForm.reason.value.trim();
    if (reason.length < 3) return stateError.show("Give a reason, 3 to 500 characters: it goes into the audit log.");
    const change = async () => {
      await api(`/api/admin/customers/${c.id}/${disabling ? "disable" : "enable"}`, { method: "POST", body: { reason } });
      await done(`${c.email} is ${disabling ? "disabled" : "enabled again"}.`);
    };
    if (!disabling) {
      const button = stateForm.querySelector("button");
      button.disabled = true;
      try {
        await change();
      } catch (err) {
        button.disabled = false;
        stateError.show(err);
      }
      return;
    }
    confirm.open({
      heading: `Disable ${c.email}?`,
      detail: "Its agents are refused and it is signed out everywhere at once. Nothing is deleted; enable it again at any time.",
      confirm: "Yes, disable",
      returnTo: stateForm.querySelector("button"),
      run: change,
    });
  });
  out.push(stateForm);
  return out;
}

function deleteCard(c, after) {
  const error = errorLine();
  const typed = el("input", { id: "delete-confirm", name: "confirm_email", type: "email", maxlength: 254, autocomplete: "off", required: true });
  const reason = el("input", { id: "delete-reason", name: "reason", type: "text", maxlength: 500, autocomplete: "off", required: true });
  const button = el("button", { type: "submit", class: "danger", disabled: true, text: "Delete the customer and its data" });
  const form = el(
    "form",
    { class: "stack", id: "delete-form", novalidate: true },
    el("label", { for: "delete-confirm", text: `To confirm, type the customer's address (${c.email})` }),
    typed,
    el("label", { for: "delete-reason", text: "Reason (kept in the audit log)" }),
    reason,
    button,
    error.node,
  );
  const ready = () => typed.value.trim().toLowerCase() === c.email.toLowerCase() && reason.value.trim().length >= 3;
  form.addEventListener("input", () => {
    button.disabled = !ready();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.clear();
    if (!ready()) return;
    button.disabled = true;
    try {
      const answer = await api(`/api/admin/customers/${c.id}`, { method: "DELETE", body: { confirm_email: typed.value.trim(), reason: reason.value.trim() } });
      await after(answer.deleted || { email: c.email, plan: c.plan });
    } catch (err) {
      button.disabled = false;
      error.show(err);
    }
  });
  return card(
    "Delete the customer",
    el("p", { text: "Deletes the account and everything it holds, at once and for good: GPUs' history, recommendations, alerts, keys, sessions. A paid plan ends without a refund. The record of payments stays, without the address." }),
    form,
  );
}

async function detail(main, id) {
  let answer;
  try {
    answer = await api(`/api/admin/customers/${id}`);
  } catch (err) {
    if (err.status !== 404) throw err;
    main.replaceChildren(
      el("h1", { text: "Customers" }),
      el("p", { role: "alert", class: "error", text: `No customer ${id}: deleted, or never was.` }),
      el("p", {}, el("a", { href: "/admin/customers", text: "All customers" })),
    );
    return;
  }
  const c = answer.customer;
  const sub = answer.subscription;
  const again = async (message) => {
    await detail(main, id);
    main.querySelector("h1").focus();
    showStatus(message, "ok");
  };
  const confirm = confirmBox("customer-confirm");
  const account = card(
    "Account",
    facts([
      ["Customer", `#${c.id}`],
      ["Email", c.email, "email"],
      ["Plan", planName(c.plan), "plan"],
      ["Subscription", sub ? `${sub.status}${sub.gateway ? `, through ${sub.gateway}` : ""}` : "none: never paid", "subscription"],
      ["Paid period", sub ? el("span", {}, time(sub.period_start), " to ", time(sub.period_end)) : "–", "period"],
      ["State", c.disabled ? stateWord(`disabled: ${c.disabled_reason || "no reason given"}`, false) : stateWord("enabled", true), "state"],
      ["Signed up", time(c.created_at)],
      ["GPUs", `${num(c.gpus, 0)}; last report ${c.last_report_at ? ago(c.last_report_at) : "never"}`],
    ]),
    el("p", {},
      el("a", { href: `/admin/payments?customer=${c.id}`, text: "Payments of this customer" }), " · ",
      el("a", { href: `/admin/mail?customer=${c.id}`, text: "Mail to this customer" })),
  );
  const gpus = table("The customer's GPUs", [
    ["GPU", (g) => el("code", { text: g.gpu_key })],
    ["First seen", (g) => time(g.first_seen)],
    ["Last report", (g) => el("span", {}, time(g.last_seen), el("span", { class: "muted", text: ` (${ago(g.last_seen)})` }))],
  ], answer.gpus || [], { empty: "No GPU has reported." });
  const payments = table("The customer's payments", [
    ["Created", (p) => time(p.created_at)],
    ["Reference", (p) => el("code", { text: p.reference })],
    ["Gateway", (p) => p.gateway],
    ["Plan", (p) => planName(p.plan)],
    ["Amount", (p) => amount(p.amount, p.currency), { numeric: true }],
    ["Status", paymentStatus],
    ["Completed", (p) => (p.completed_at ? time(p.completed_at) : "–")],
  ], answer.payments || [], { empty: "No payments." });
  const ledger = table("The customer's rows in the revenue ledger", [
    ["When", (r) => time(r.at)],
    ["Kind", (r) => r.kind],
    ["Plan", (r) => planName(r.plan)],
    ["Amount", (r) => amount(r.amount, r.currency), { numeric: true }],
    ["Detail", (r) => long(r.detail)],
  ], answer.ledger || [], { empty: "Nothing in the ledger." });
  const mails = table("Mail to the customer", [
    ["Created", (m) => time(m.created_at)],
    ["Subject", (m) => long(m.subject)],
    ["Kind", (m) => m.kind],
    ["Status", (m) => stateWord(m.status, m.status === "sent" ? true : m.status === "failed" ? false : null)],
    ["Sent", (m) => (m.sent_at ? time(m.sent_at) : "–")],
    ["Last error", (m) => long(m.last_error)],
  ], answer.mails || [], { empty: "No mail." });
  const alerts = table("The customer's alerts", [
    ["Opened", (a) => time(a.opened_at)],
    ["Closed", (a) => (a.closed_at ? time(a.closed_at) : stateWord("open", false))],
    ["GPU", (a) => el("code", { text: a.gpu_key })],
    ["Message", (a) => long(a.message)],
    ["Delivery", (a) => a.delivery || "–"],
  ], answer.alerts || [], { empty: "No alerts." });

  main.replaceChildren(
    el("p", { class: "crumbs" }, el("a", { href: "/admin/customers", text: "Customers" }), " › ", `#${c.id}`),
    el("h1", { class: "break", tabindex: -1, text: c.email }),
    account,
    card("Change the account", el("div", { class: "actions" }, actions(c, answer, confirm, again)), confirm.node),
    card("GPUs", gpus),
    card("Payments", payments),
    card("Revenue ledger", ledger),
    card("Mail", mails),
    card("Alerts", alerts),
    deleteCard(c, async (deleted) => {
      history.replaceState(null, "", "/admin/customers");
      await list(main);
      showStatus(`Deleted ${deleted.email} (${planName(deleted.plan)}).`, "ok");
    }),
  );
}

start("/admin/customers", async (main) => {
  const id = new URLSearchParams(location.search).get("id");
  if (id && /^[0-9]{1,18}$/.test(id)) await detail(main, Number(id));
  else await list(main);
});
