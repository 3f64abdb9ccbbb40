// /admin/payments: every payment, filtered by status and gateway (and by customer from a customer's page),
// paged back; a pending one checked with its gateway at once (the verdict and the gateway's note shown), a
// refund made at the gateway recorded with its reason (confirmed first); and the gateways' events as they
// arrived, the ignored and failed ones with the reason, each raw body behind a disclosure.
import { el, card, time, showStatus } from "../core.js";
import { api, start } from "./panel.js";
import { confirmBox, customerLink, errorLine, filterForm, long, pagedList, paymentStatus, queryOf, stateWord } from "./parts.js";

const STATUSES = ["pending", "completed", "failed", "expired", "paid_unapplied", "refunded"];
const GATEWAYS = ["flutterwave", "nowpayments"];
const EVENT_STATES = ["pending", "applied", "ignored", "failed"];

function options(values, all = "All") {
  return [el("option", { value: "", text: all }), ...values.map((v) => el("option", { value: v, text: v.replace("_", " ") }))];
}

function amount(value, currency) {
  return value === null || value === undefined ? "–" : `${value} ${currency || ""}`.trim();
}

function paymentsCard(customer) {
  const verdict = el("p", { id: "verify-result", role: "status" });
  const error = errorLine();
  const confirm = confirmBox("refund-confirm");
  const form = filterForm(
    { id: "p-filters" },
    el("label", { for: "p-status", text: "Status" }),
    el("select", { id: "p-status", name: "status" }, options(STATUSES)),
    el("label", { for: "p-gateway", text: "Gateway" }),
    el("select", { id: "p-gateway", name: "gateway" }, options(GATEWAYS)),
    customer ? el("input", { type: "hidden", name: "customer", value: customer }) : null,
    el("button", { type: "submit", text: "Show" }),
  );
  const actions = (p) => {
    const out = [];
    if (p.status === "pending") {
      const verify = el("button", { type: "button", class: "small-button", text: "Verify with the gateway now", "aria-label": `Verify with the gateway now: ${p.reference}` });
      verify.addEventListener("click", async () => {
        error.clear();
        verify.disabled = true;
        try {
          const answer = await api(`/api/admin/payments/${p.id}/verify`, { method: "POST", body: {} });
          verdict.className = answer.verdict === "applied" ? "ok" : answer.verdict === "retry" ? "warn" : "";
          verdict.textContent = `${p.reference}: ${answer.verdict}${answer.note ? ` (${answer.note})` : ""}; now ${answer.payment ? answer.payment.status : "unchanged"}.`;
          await payments.load(true);
        } catch (err) {
          verify.disabled = false;
          error.show(err);
        }
      });
      out.push(verify);
    }
    if ((p.status === "completed" || p.status === "paid_unapplied") && !p.refunded) {
      const refund = el("button", { type: "button", class: "small-button secondary", text: "Record refund", "aria-label": `Record refund: ${p.reference}` });
      refund.addEventListener("click", () => {
        error.clear();
        verdict.textContent = "";
        confirm.open({
          heading: `Record a refund of ${p.reference}?`,
          detail: `${amount(p.paid_amount ?? p.amount, p.paid_currency || p.currency)} from ${p.email || "a deleted customer"} through ${p.gateway}. `
            + "This records a refund you made at the gateway; it moves no money. "
            + (p.status === "completed" ? "The plan stays to the end of its period; the ledger gets a refund row." : "The payment becomes refunded."),
          confirm: "Yes, record the refund",
          needsReason: true,
          returnTo: refund,
          run: async (reason) => {
            await api(`/api/admin/payments/${p.id}/refund`, { method: "POST", body: { reason } });
            showStatus(`The refund of ${p.reference} is recorded.`, "ok");
            await payments.load(true);
          },
        });
      });
      out.push(refund);
    }
    return out.length ? el("div", { class: "key-actions" }, out) : "–";
  };
  const payments = pagedList({
    caption: "Payments, newest first",
    empty: "No payment matches.",
    more: "Older payments",
    columns: [
      ["Created", (p) => time(p.created_at)],
      ["Reference", (p) => [el("code", { text: p.reference }), el("div", { class: "small muted", text: p.gateway })]],
      ["Customer", (p) => (p.email ? customerLink(p.account_id, p.email) : el("span", { class: "muted", text: "deleted" }))],
      ["For", (p) => [el("div", { class: "nowrap", text: `${p.plan}, ${amount(p.amount, p.currency)}` }),
        p.paid_amount === null || p.paid_amount === undefined ? null : el("div", { class: "small muted nowrap", text: `paid ${amount(p.paid_amount, p.paid_currency)}` })]],
      ["Status", (p) => [paymentStatus(p), p.completed_at ? el("div", { class: "small muted" }, "on ", time(p.completed_at)) : null,
        p.note ? el("div", { class: "small long", text: p.note }) : null]],
      ["Act", actions],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/payments?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.payments, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    payments.load(true).catch((err) => showStatus(err.message));
  });
  payments.button.addEventListener("click", () => payments.load(false).catch((err) => showStatus(err.message)));
  const box = card(
    "Payments",
    customer ? el("p", { class: "note" }, `Customer #${customer} only. `, el("a", { href: "/admin/payments", text: "Every customer's payments" })) : null,
    form,
    payments.node,
    verdict,
    error.node,
    confirm.node,
  );
  return { box, load: () => payments.load(true) };
}

function eventsCard() {
  const form = filterForm(
    { id: "ge-filters" },
    el("label", { for: "ge-state", text: "State" }),
    el("select", { id: "ge-state", name: "state" }, options(EVENT_STATES)),
    el("label", { for: "ge-gateway", text: "Gateway" }),
    el("select", { id: "ge-gateway", name: "gateway" }, options(GATEWAYS)),
    el("label", { for: "ge-reference", text: "Reference" }),
    el("input", { id: "ge-reference", name: "reference", type: "search", maxlength: 100, autocomplete: "off" }),
    el("button", { type: "submit", text: "Show" }),
  );
  const events = pagedList({
    caption: "Gateway events, newest first",
    empty: "No event matches.",
    more: "Older events",
    columns: [
      ["Received", (e) => time(e.received_at)],
      ["Gateway", (e) => e.gateway],
      ["Reference", (e) => (e.reference ? el("code", { text: e.reference }) : "–")],
      ["State", (e) => stateWord(e.state, e.state === "applied" ? true : e.state === "failed" || e.state === "ignored" ? false : null)],
      ["Attempts", (e) => String(e.attempts), { numeric: true }],
      ["Next attempt", (e) => (e.next_attempt ? time(e.next_attempt) : "–")],
      ["Result", (e) => [long(e.result), e.body
        ? el("details", { class: "body" }, el("summary", { text: "The body as received" }), el("pre", { tabindex: 0, text: pretty(e.body) }))
        : null]],
    ],
    fetchPage: async (before) => {
      const answer = await api("/api/admin/gateway-events?" + queryOf(form, { limit: 50, before }));
      return { rows: answer.events, next_before: answer.next_before };
    },
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    events.load(true).catch((err) => showStatus(err.message));
  });
  events.button.addEventListener("click", () => events.load(false).catch((err) => showStatus(err.message)));
  const box = card(
    "Gateway events",
    el("p", { class: "muted", text: "Webhooks and callbacks as they arrived. Ignored and failed ones say why in Result, above the body as it came; failed ones are tried again until their attempts run out." }),
    form,
    events.node,
  );
  return { box, load: () => events.load(true) };
}

function pretty(body) {
  if (typeof body !== "string") return JSON.stringify(body, null, 2);
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

start("/admin/payments", async (main) => {
  const customer = new URLSearchParams(location.search).get("customer");
  const payments = paymentsCard(customer && /^[0-9]{1,18}$/.test(customer) ? customer : null);
  const events = eventsCard();
  main.replaceChildren(el("h1", { text: "Payments" }), payments.box, events.box);
  await Promise.all([payments.load(), events.load()]);
});
