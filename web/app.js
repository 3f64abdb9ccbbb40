// Landing page: plans from the server's configuration, and a sign-up form that shows the key once.
"use strict";

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

// The paid plan chosen on a card (paid sign-up goes straight on to the gateway's checkout), or null.
let chosen = null;

function choose(plan, gateway) {
  chosen = { tier: plan.tier, payment_method: gateway.name };
  const note = document.getElementById("chosen-plan");
  note.textContent = `${plan.name}, paid through ${gateway.display_name}: after the key, the next step is the payment page.`;
  note.hidden = false;
  document.getElementById("signup-title").textContent = `Create your ${plan.name} account`;
  document.getElementById("signup-button").textContent = "Get my API key and pay";
  document.getElementById("signup").scrollIntoView();
  document.getElementById("email").focus();
}

async function loadPlans() {
  const status = document.getElementById("plans-status");
  const list = document.getElementById("plans-list");
  try {
    const res = await fetch("/api/plans", { headers: { Accept: "application/json" } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || "Could not load plans");
    let gateways = [];
    if (body.paid_checkout_available) {
      const g = await fetch("/api/payment/gateways", { headers: { Accept: "application/json" } });
      if (g.ok) gateways = (await g.json()).gateways;
    }
    list.replaceChildren();
    for (const plan of body.plans) {
      const card = element("article", undefined, "plan");
      card.dataset.tier = plan.tier;
      card.append(element("h3", plan.name));
      const price = element("div", plan.price_usd === 0 ? "$0" : "$" + plan.price_usd, "price");
      price.append(element("small", " / month"));
      card.append(price);
      const features = element("ul");
      if (plan.gpu_limit !== null) {
        features.append(element("li", `Up to ${plan.gpu_limit} GPUs (distinct, per ${body.gpu_limit_window_hours} h)`));
      }
      for (const f of plan.features) features.append(element("li", f));
      if (plan.requests_per_hour !== null) {
        features.append(element("li", `${plan.requests_per_hour.toLocaleString("en-US")} API requests per hour`));
      }
      card.append(features);
      if (plan.price_usd > 0 && gateways.length === 0) {
        card.append(element("p", "Checkout opens soon", "soon"));
      } else if (plan.price_usd > 0) {
        for (const gateway of gateways) {
          const button = element("button", `Choose ${plan.name}: ${gateway.display_name}`, "choose");
          button.type = "button";
          button.addEventListener("click", () => choose(plan, gateway));
          card.append(button);
        }
      }
      list.append(card);
    }
    status.hidden = true;
  } catch (err) {
    status.textContent = "Plans are unavailable right now.";
  }
}

function showError(message) {
  const error = document.getElementById("signup-error");
  error.textContent = message;
  error.hidden = false;
}

async function signUp(event) {
  event.preventDefault();
  const form = event.target;
  const button = document.getElementById("signup-button");
  const email = form.email.value.trim();
  document.getElementById("signup-error").hidden = true;
  if (!form.email.checkValidity() || email === "") {
    showError("Please enter a valid email address.");
    return;
  }
  button.disabled = true;
  try {
    const res = await fetch("/api/signup", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email, ...(chosen || {}), ...arrival() }),
    });
    const body = await res.json();
    if (!res.ok) {
      const detail = body.details ? Object.values(body.details)[0] : "";
      showError(detail ? `${body.message}: ${detail}` : body.message);
      return;
    }
    document.getElementById("api-key").textContent = body.api_key;
    if (body.payment_url) {
      document.getElementById("pay-link").href = body.payment_url;
      document.getElementById("pay-next").hidden = false;
    } else if (body.payment_error) {
      const failed = document.getElementById("payment-error");
      failed.textContent = `The account exists, but the checkout could not start (${body.payment_error}). Sign in and upgrade from Billing.`;
      failed.hidden = false;
    }
    document.getElementById("key-box").hidden = false;
    form.hidden = true;
  } catch (err) {
    showError("The server could not be reached. Please try again.");
  } finally {
    button.disabled = false;
  }
}

// A referral code the visitor arrived with (/?ref=CODE), kept in this browser for 30 days so that a signup
// days later is still credited to where they came from; and their offset from UTC for the send window.
const REF_KEY = "gpuopt_ref";
const REF_DAYS = 30;

function rememberReferral() {
  const ref = new URLSearchParams(window.location.search).get("ref");
  if (!ref || !/^[a-z0-9_-]{1,64}$/.test(ref)) return;
  try {
    localStorage.setItem(REF_KEY, JSON.stringify({ ref, at: Date.now() }));
  } catch (err) {
    // Storage refused (private mode): the code counts only for this page view.
    sessionRef = ref;
  }
}

let sessionRef = "";

function arrival() {
  const out = { utc_offset_minutes: -new Date().getTimezoneOffset() };
  let ref = sessionRef;
  try {
    const kept = JSON.parse(localStorage.getItem(REF_KEY) || "null");
    if (kept && Date.now() - kept.at < REF_DAYS * 86400 * 1000) ref = kept.ref;
  } catch (err) {
    // Nothing kept.
  }
  if (ref) out.ref = ref;
  return out;
}

async function loadAuditForm() {
  try {
    const res = await fetch("/api/audit-requests", { headers: { Accept: "application/json" } });
    if (!res.ok) return;
    const body = await res.json();
    document.getElementById("audit-consent-text").textContent = body.consent_text;
  } catch (err) {
    // The form keeps its default wording; the server records the text it holds.
  }
}

async function requestAudit(event) {
  event.preventDefault();
  const form = event.target;
  const error = document.getElementById("audit-error");
  const button = document.getElementById("audit-button");
  error.hidden = true;
  const email = form.email.value.trim();
  if (!form.email.checkValidity() || email === "") {
    error.textContent = "Please enter a valid email address.";
    error.hidden = false;
    return;
  }
  if (!form.consent.checked) {
    error.textContent = "Please tick the box: we only send the audit to those who agree to receive it.";
    error.hidden = false;
    return;
  }
  button.disabled = true;
  try {
    const payload = { email, consent: true, ...arrival() };
    if (form.name.value.trim()) payload.name = form.name.value.trim();
    if (form.company.value.trim()) payload.company = form.company.value.trim();
    const res = await fetch("/api/audit-requests", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(payload),
    });
    const body = await res.json();
    if (!res.ok) {
      const detail = body.details ? Object.values(body.details)[0] : "";
      error.textContent = detail ? `${body.message}: ${detail}` : body.message;
      error.hidden = false;
      return;
    }
    const done = document.getElementById("audit-done");
    done.textContent = body.message;
    done.hidden = false;
    form.hidden = true;
  } catch (err) {
    error.textContent = "The server could not be reached. Please try again.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

async function copyKey() {
  const key = document.getElementById("api-key").textContent;
  try {
    await navigator.clipboard.writeText(key);
    document.getElementById("copy-key").textContent = "Copied";
  } catch (err) {
    document.getElementById("copy-key").textContent = "Select and copy the key";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("base-url").textContent = window.location.origin;
  document.getElementById("signup-form").addEventListener("submit", signUp);
  document.getElementById("copy-key").addEventListener("click", copyKey);
  document.getElementById("audit-form").addEventListener("submit", requestAudit);
  rememberReferral();
  loadPlans();
  loadAuditForm();
});
