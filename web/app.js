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
      body: JSON.stringify(chosen ? { email, ...chosen } : { email }),
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
  loadPlans();
});
