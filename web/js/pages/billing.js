// Billing (/billing): the plan, its paid period and renewal; upgrade through the gateway the customer picks
// (the gateway's hosted checkout, then back here with the result, which the server verifies with the
// gateway); payments and their receipts.
import { api, card, el, money, setCurrency, showStatus, table, time } from "../core.js";

export async function render(main, session) {
  const [mine, plans, gateways] = await Promise.all([api("/api/me/payments"), api("/api/plans"), api("/api/payment/gateways")]);
  setCurrency("USD");
  const current = plans.plans.find((p) => p.tier === mine.tier);
  const sub = mine.subscription;
  const planCard = card(
    "Your plan",
    el("p", { class: "plan-now" }, el("strong", { text: current ? current.name : mine.tier }), current && current.price_usd ? ` · ${money(current.price_usd, 0)} a month` : " · free"),
    sub
      ? el("p", {}, `Paid period: `, time(sub.period_start), " to ", time(sub.period_end), ` (${sub.status}). `, sub.status === "active" ? "We email a renewal link 7 days and 1 day before it ends." : "")
      : el("p", { class: "muted", text: mine.tier === "free" ? "The free plan needs no payment." : "No paid period on record: this plan was set by the operator." }),
  );
  const offers = el("div", { class: "plans" });
  for (const p of plans.plans.filter((x) => x.price_usd > 0)) {
    const isCurrent = p.tier === mine.tier;
    const offer = el("article", { class: "plan", "data-tier": p.tier },
      el("h3", { text: p.name }),
      el("div", { class: "price", text: money(p.price_usd, 0) }, el("small", { text: " / month" })),
      el("ul", {}, p.features.map((f) => el("li", { text: f }))));
    if (!gateways.gateways.length) {
      offer.append(el("p", { class: "muted", text: "This server takes no payments yet: its operator has not configured a gateway." }));
    } else {
      const label = isCurrent ? `Renew ${p.name}` : `Upgrade to ${p.name}`;
      for (const g of gateways.gateways) {
        const b = el("button", { type: "button", class: "button", text: `${label}: ${g.display_name}` });
        b.addEventListener("click", async () => {
          b.disabled = true;
          try {
            const checkout = await api("/api/upgrade", { method: "POST", body: { tier: p.tier, payment_method: g.name } });
            location.assign(checkout.payment_url);
          } catch (err) {
            showStatus(err.message);
            b.disabled = false;
          }
        });
        offer.append(b);
      }
    }
    offers.append(offer);
  }
  const payments = table("Payments", [
    ["Date", (p) => time(p.created_at)],
    ["Plan", (p) => p.tier],
    ["Amount", (p) => `${p.amount} ${p.currency}`, { numeric: true }],
    ["Gateway", (p) => p.gateway],
    ["Status", (p) => (p.status === "pending" && p.payment_url ? el("a", { href: p.payment_url, text: "pending: continue" }) : p.status)],
    ["Reference", (p) => el("code", { text: p.payment_id })],
    ["Receipt", (p) => (p.status === "completed" ? receiptButton(p, session) : "")],
  ], mine.payments, { empty: "No payments yet." });
  main.append(el("h1", { text: "Billing" }), planCard, card("Plans", offers), card("Payments and receipts", payments,
    el("p", { class: "small muted", text: "A receipt is also emailed for every completed payment." })));
}

// A completed payment's receipt, in a dialog that prints on its own (dash.css hides the rest of the page).
function receiptButton(p, session) {
  const b = el("button", { type: "button", class: "small-button secondary", text: "View", "aria-label": `Receipt for ${p.payment_id}` });
  b.addEventListener("click", () => {
    const plan = { professional: "Professional", enterprise: "Enterprise" }[p.tier] || p.tier;
    const print = el("button", { type: "button", text: "Print or save as PDF" });
    const close = el("button", { type: "button", class: "small-button secondary", text: "Close" });
    const dialog = el("dialog", { class: "receipt", "aria-labelledby": "receipt-title" },
      el("h2", { id: "receipt-title", text: "Receipt" }),
      el("dl", { class: "facts" },
        el("dt", { text: "From" }), el("dd", { text: `GPUOptimizer (${location.host})` }),
        el("dt", { text: "To" }), el("dd", { text: session.email }),
        el("dt", { text: "Paid" }), el("dd", {}, time(p.completed_at), el("span", { class: "muted", text: ` (${p.completed_at} UTC)` })),
        el("dt", { text: "Amount" }), el("dd", { text: `${Number(p.paid_amount).toFixed(2)} ${p.paid_currency}` }),
        el("dt", { text: "For" }), el("dd", { text: `${plan} plan, one month (${p.purpose})` }),
        el("dt", { text: "Paid through" }), el("dd", { text: p.gateway }),
        el("dt", { text: "Reference" }), el("dd", {}, el("code", { text: p.payment_id })),
        el("dt", { text: "Gateway's id" }), el("dd", {}, el("code", { text: p.gateway_id || "—" }))),
      el("div", { class: "dialog-actions" }, print, close));
    print.addEventListener("click", () => window.print());
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { dialog.remove(); b.focus(); });
    document.body.append(dialog);
    dialog.showModal();
  });
  return b;
}
