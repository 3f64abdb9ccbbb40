// Landing page: plans from the server's configuration, and a sign-up form that shows the key once.
"use strict";

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

async function loadPlans() {
  const status = document.getElementById("plans-status");
  const list = document.getElementById("plans-list");
  try {
    const res = await fetch("/api/plans", { headers: { Accept: "application/json" } });
    const body = await res.json();
    if (!res.ok) throw new Error(body.message || "Could not load plans");
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
      if (plan.price_usd > 0 && !body.paid_checkout_available) {
        card.append(element("p", "Checkout opens soon", "soon"));
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
      body: JSON.stringify({ email }),
    });
    const body = await res.json();
    if (!res.ok) {
      const detail = body.details ? Object.values(body.details)[0] : "";
      showError(detail ? `${body.message}: ${detail}` : body.message);
      return;
    }
    document.getElementById("api-key").textContent = body.api_key;
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
